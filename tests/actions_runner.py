"""Runs a GitHub Actions workflow file here, step by step, the way the hosted runner would.

Every ``run:`` step is executed as written with ``bash --noprofile --norc -eo pipefail`` (the
runner's default shell), with the workflow's, job's and step's ``env:`` and ``if:`` evaluated from
the same contexts GitHub would give them (``github``, ``secrets``, ``vars``, ``steps``, ``needs``),
step outputs read from ``$GITHUB_OUTPUT`` (``name=value`` and ``name<<DELIMITER`` blocks), and the job
outputs resolved from the step outputs.  Jobs run in ``needs`` order.

What the hosted runner would do itself is stood in for, and only that:

* ``actions/checkout`` copies a directory that the test chooses for the step's ``with:`` values;
* ``actions/setup-python`` puts a Python the test prepared first on ``PATH``;
* ``actions/upload-artifact`` copies the named files into ``artifacts/<name>/``.

Any other action, or any expression this evaluator does not know, raises :class:`WorkflowError`,
so a change to a workflow cannot silently skip its test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import yaml


class WorkflowError(AssertionError):
    """The workflow uses something this runner cannot emulate faithfully: extend the runner."""


# ------------------------------------------------------------------------------------------ expressions

_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>\|\||&&|==|!=|!|\(|\))|"
                    r"(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*))")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise WorkflowError(f"cannot parse the expression {text!r} at {text[position:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _truthy(value) -> bool:
    return value not in (None, "", False, 0)


class _Parser:
    """``a || b``, ``a && b``, ``a == b``, ``a != b``, ``!a``, parentheses, literals, context paths and the
    status functions ``success()``, ``failure()``, ``always()``, ``cancelled()``."""

    def __init__(self, text: str, contexts: Mapping[str, object], job_failed: bool):
        self.tokens, self.position = _tokens(text), 0
        self.contexts, self.job_failed, self.text = contexts, job_failed, text

    def parse(self):
        value = self._or()
        if self.position != len(self.tokens):
            raise WorkflowError(f"unexpected {self.tokens[self.position][1]!r} in {self.text!r}")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _or(self):
        value = self._and()
        while self._peek() == "||":
            self._take()
            other = self._and()
            value = value if _truthy(value) else other
        return value

    def _and(self):
        value = self._compare()
        while self._peek() == "&&":
            self._take()
            other = self._compare()
            value = other if _truthy(value) else value
        return value

    def _compare(self):
        value = self._unary()
        while self._peek() in ("==", "!="):
            op = self._take()[1]
            other = self._unary()
            same = str(value if value is not None else "").lower() == str(other if other is not None else "").lower()
            value = same if op == "==" else not same
        return value

    def _unary(self):
        if self._peek() == "!":
            self._take()
            return not _truthy(self._unary())
        if self._peek() == "(":
            self._take()
            value = self._or()
            if self._take()[1] != ")":
                raise WorkflowError(f"unbalanced parentheses in {self.text!r}")
            return value
        kind, token = self._take()
        if kind == "string":
            return token[1:-1].replace("''", "'")
        if kind == "number":
            return float(token)
        if kind != "name":
            raise WorkflowError(f"unexpected {token!r} in {self.text!r}")
        if token in ("true", "false"):
            return token == "true"
        if token == "null":
            return None
        if self._peek() == "(":
            self._take()
            if self._take()[1] != ")":
                raise WorkflowError(f"functions with arguments are not emulated: {self.text!r}")
            statuses = {"success": not self.job_failed, "failure": self.job_failed, "always": True,
                        "cancelled": False}
            if token not in statuses:
                raise WorkflowError(f"the function {token}() is not emulated: {self.text!r}")
            return statuses[token]
        return self._lookup(token)

    def _lookup(self, path: str):
        parts = re.findall(r"[A-Za-z_][\w-]*|\[\d+\]", path)
        if parts[0] not in self.contexts:
            raise WorkflowError(f"the context {parts[0]!r} is not emulated: {self.text!r}")
        value = self.contexts[parts[0]]
        for part in parts[1:]:
            if isinstance(value, Mapping):
                value = value.get(part)
            elif isinstance(value, list) and part.startswith("["):
                index = int(part[1:-1])
                value = value[index] if index < len(value) else None
            else:
                return None
        return value


def evaluate(text: str, contexts: Mapping[str, object], *, job_failed: bool = False):
    """The value of one expression (the part inside ``${{ }}``)."""
    return _Parser(text, contexts, job_failed).parse()


def substitute(text, contexts: Mapping[str, object]) -> str:
    """``text`` with every ``${{ expression }}`` replaced by its value as GitHub writes it into a string."""
    if not isinstance(text, str):
        return "" if text is None else (str(text).lower() if isinstance(text, bool) else str(text))

    def value(match: re.Match) -> str:
        result = evaluate(match.group(1), contexts)
        if result is None:
            return ""
        if isinstance(result, bool):
            return str(result).lower()
        if isinstance(result, float) and result.is_integer():
            return str(int(result))
        return str(result) if not isinstance(result, (dict, list)) else json.dumps(result)

    return re.sub(r"\$\{\{(.*?)\}\}", value, text, flags=re.S)


def condition(text, contexts: Mapping[str, object], *, job_failed: bool) -> bool:
    """An ``if:``: without ``${{ }}`` it is an expression too; a missing one means ``success()``."""
    if text is None:
        return not job_failed
    if isinstance(text, bool):
        return text
    text = text.strip()
    match = re.fullmatch(r"\$\{\{(.*)\}\}", text, flags=re.S)
    expression = match.group(1) if match else text
    uses_status = re.search(r"\b(success|failure|always|cancelled)\(\)", expression)
    result = _truthy(evaluate(expression, contexts, job_failed=job_failed))
    return result if uses_status else result and not job_failed


# ------------------------------------------------------------------------------------------ the runner


def read_outputs(path: Path) -> dict[str, str]:
    """The ``$GITHUB_OUTPUT`` (or ``$GITHUB_ENV``) file as the runner parses it."""
    outputs, lines = {}, path.read_text(encoding="utf-8").split("\n") if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        heredoc = re.fullmatch(r"([^=<]+)<<(.+)", line)
        if heredoc:
            name, delimiter, body = heredoc.group(1), heredoc.group(2), []
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            if index >= len(lines):
                raise WorkflowError(f"{path.name}: the value of {name!r} never ends with {delimiter!r}")
            index += 1
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        else:
            raise WorkflowError(f"{path.name}: the runner would reject the line {line!r}")
    return outputs


@dataclass
class StepRecord:
    job: str
    name: str
    ran: bool
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkflowRun:
    steps: list[StepRecord]
    job_outputs: dict[str, dict[str, str]]
    job_results: dict[str, str]
    summary: str
    artifacts: Path

    def log(self) -> str:
        """Everything the run printed, as the public Actions log shows it."""
        return "\n".join(f"## {step.job} / {step.name}\n{step.stdout}{step.stderr}" for step in self.steps)

    def step(self, name: str) -> StepRecord:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"no step named {name!r}; steps: {[step.name for step in self.steps]}")


@dataclass
class Runner:
    """One emulated run of a workflow.

    ``checkout`` answers where an ``actions/checkout`` step's content comes from (given its evaluated
    ``with:``); ``python_bin`` is the folder whose ``python`` the setup-python stand-in puts on ``PATH``;
    ``contexts`` holds ``github`` (including ``event``), ``secrets`` and ``vars``.
    """

    workflow: Path
    root: Path
    contexts: dict
    checkout: Callable[[Mapping[str, str]], Path]
    python_bin: Path
    extra_path: tuple[Path, ...] = ()
    base_env: Mapping[str, str] = field(default_factory=dict)
    timeout: int = 900

    def run(self, *, event_name: str) -> WorkflowRun:
        document = yaml.safe_load(self.workflow.read_text(encoding="utf-8"))
        triggers = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as True
        if event_name not in (triggers if isinstance(triggers, (dict, list)) else [triggers]):
            raise WorkflowError(f"{self.workflow.name} is not triggered by {event_name}")
        artifacts = self.root / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        event = self.root / "event.json"
        event.write_text(json.dumps(self.contexts["github"]["event"]), encoding="utf-8")
        records, job_outputs, job_results, summaries = [], {}, {}, []
        for job_id in self._job_order(document["jobs"]):
            job = document["jobs"][job_id]
            needs = [job.get("needs")] if isinstance(job.get("needs"), str) else job.get("needs") or []
            contexts = {**self.contexts, "needs": {n: {"outputs": job_outputs[n], "result": job_results[n]}
                                                   for n in needs}}
            if any(job_results[n] != "success" for n in needs) or not condition(job.get("if"), contexts,
                                                                                job_failed=False):
                job_results[job_id], job_outputs[job_id] = "skipped", {}
                continue
            workspace = self.root / "jobs" / job_id
            workspace.mkdir(parents=True)
            failed, steps_context = False, {}
            env_base = {**self.base_env, **self._env(document.get("env"), contexts),
                        **self._env(job.get("env"), contexts)}
            path_entries: list[str] = [str(p) for p in self.extra_path]
            for number, step in enumerate(job.get("steps", [])):
                name = step.get("name") or step.get("uses") or f"step {number}"
                contexts_step = {**contexts, "steps": steps_context}
                if not condition(step.get("if"), contexts_step, job_failed=failed):
                    records.append(StepRecord(job_id, name, ran=False))
                    continue
                files = {key: workspace / ".runner" / f"{key.lower()}-{number}"
                         for key in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH")}
                for file in files.values():
                    file.parent.mkdir(exist_ok=True)
                    file.write_text("")
                env = {**env_base, **self._env(step.get("env"), contexts_step),
                       "GITHUB_WORKSPACE": str(workspace), "GITHUB_EVENT_PATH": str(event),
                       "GITHUB_EVENT_NAME": event_name, "GITHUB_JOB": job_id, "RUNNER_TEMP": str(self.root / "tmp"),
                       "CI": "true", "GITHUB_ACTIONS": "true", **{key: str(value) for key, value in files.items()}}
                env["PATH"] = os.pathsep.join([*path_entries, env_base.get("PATH", os.defpath)])
                (self.root / "tmp").mkdir(exist_ok=True)
                if "uses" in step:
                    record = self._action(job_id, name, step, contexts_step, workspace, artifacts, path_entries)
                else:
                    record = self._shell(job_id, name, step, env, workspace)
                record.outputs = read_outputs(files["GITHUB_OUTPUT"])
                if files["GITHUB_ENV"].read_text():
                    env_base.update(read_outputs(files["GITHUB_ENV"]))
                path_entries[:0] = [line for line in files["GITHUB_PATH"].read_text().splitlines() if line]
                summaries.append(files["GITHUB_STEP_SUMMARY"].read_text())
                records.append(record)
                if "id" in step:
                    steps_context[step["id"]] = {"outputs": record.outputs,
                                                 "outcome": "success" if record.returncode == 0 else "failure"}
                if record.returncode != 0 and not step.get("continue-on-error"):
                    failed = True
            contexts_done = {**contexts, "steps": steps_context}
            job_outputs[job_id] = {key: substitute(value, contexts_done)
                                   for key, value in (job.get("outputs") or {}).items()}
            job_results[job_id] = "failure" if failed else "success"
        return WorkflowRun(records, job_outputs, job_results, "".join(summaries), artifacts)

    @staticmethod
    def _job_order(jobs: Mapping[str, dict]) -> list[str]:
        order, seen = [], set()

        def visit(job_id: str, trail: tuple[str, ...] = ()) -> None:
            if job_id in seen:
                return
            if job_id in trail:
                raise WorkflowError(f"jobs need each other in a cycle: {trail + (job_id,)}")
            needs = jobs[job_id].get("needs") or []
            for need in [needs] if isinstance(needs, str) else needs:
                visit(need, trail + (job_id,))
            seen.add(job_id)
            order.append(job_id)

        for job_id in jobs:
            visit(job_id)
        return order

    @staticmethod
    def _env(env: Mapping | None, contexts) -> dict[str, str]:
        return {str(key): substitute(value, contexts) for key, value in (env or {}).items()}

    def _shell(self, job: str, name: str, step: Mapping, env: Mapping[str, str], workspace: Path) -> StepRecord:
        if "${{" in step["run"]:
            raise WorkflowError(f"step {name!r} puts an expression into its script; pass it through env: instead")
        shell = step.get("shell", "bash")
        if shell != "bash":
            raise WorkflowError(f"step {name!r}: only the bash shell is emulated, not {shell!r}")
        script = workspace / ".runner" / f"step-{abs(hash(name))}.sh"
        script.write_text(step["run"], encoding="utf-8")
        cwd = workspace / step["working-directory"] if "working-directory" in step else workspace
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd, env=dict(env),
                              capture_output=True, text=True, timeout=self.timeout, stdin=subprocess.DEVNULL)
        return StepRecord(job, name, ran=True, returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)

    def _action(self, job: str, name: str, step: Mapping, contexts, workspace: Path, artifacts: Path,
                path_entries: list[str]) -> StepRecord:
        action = step["uses"].split("@", 1)[0]
        given = {key: substitute(value, contexts) for key, value in (step.get("with") or {}).items()}
        if action == "actions/checkout":
            target = workspace / given.get("path", "")
            source = self.checkout(given)
            if target == workspace:
                raise WorkflowError("checking out into the workspace root is not emulated; give `path:`")
            shutil.copytree(source, target, symlinks=True)
            return StepRecord(job, name, ran=True, returncode=0, stdout=f"checked out {source.name} into {target}\n")
        if action == "actions/setup-python":
            path_entries.insert(0, str(self.python_bin))
            return StepRecord(job, name, ran=True, returncode=0,
                              stdout=f"python {given.get('python-version')} stood in by {self.python_bin}\n")
        if action == "actions/upload-artifact":
            store = artifacts / given["name"]
            store.mkdir(parents=True, exist_ok=True)
            found = []
            for pattern in given["path"].split("\n"):
                pattern = pattern.strip()
                if pattern:
                    found += [path for path in workspace.glob(pattern) if path.is_file()]
            if not found and given.get("if-no-files-found", "warn") == "error":
                return StepRecord(job, name, ran=True, returncode=1, stderr="no files found\n")
            for path in found:
                shutil.copy(path, store / path.name)
            return StepRecord(job, name, ran=True, returncode=0, stdout=f"uploaded {[p.name for p in found]}\n")
        raise WorkflowError(f"the action {step['uses']!r} is not emulated: add a stand-in to tests/actions_runner.py")
