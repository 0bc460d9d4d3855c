"""CI gate for the SAM template: lint the source, translate it offline, lint the CloudFormation it becomes.

    python -m fulfillment_local.template_check [template.yaml] [--strict] [--no-sam] [-v]

Checks, in order:

1. cfn-lint on the SAM source template (cfn-lint's Python API, this interpreter's venv).
2. aws-sam-translator turns the template into plain CloudFormation, offline: fixed region, account id and
   partition, no IAM call for managed policies, parameter defaults as the template gives them, local
   CodeUri/ContentUri/DefinitionUri replaced by placeholder S3 locations (what `sam package` would do).
   The result is written to ``.aws-sam/translated-template.json`` beside the template. A translation
   failure is an error, and every cause the translator gives is printed.
3. cfn-lint on the translated template. It sees what the source check cannot: misspelt SAM event
   properties, implicit dependencies SAM adds (API -> function), the IAM policies SAM generates.
4. The paths of the functions' Api events are valid API Gateway resource paths (nothing else reads
   inside the Path string: a malformed one translates and lints cleanly, then fails `sam deploy`).
5. ``sam validate --lint`` if a ``sam`` executable is on PATH (aws-sam-cli lives in its own venv: it pins
   its own boto3/click); skipped with a note when absent.

Errors fail the gate; warnings are printed and fail it only with ``--strict``. A rule that must be
ignored goes in IGNORED_RULES with the reason, per check; ignored findings are still listed.

Exit status: 0 clean, 1 an error (or, with --strict, a warning), 2 bad usage.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
# Placeholder bucket for local artifact paths; never contacted.
ARTIFACT_BUCKET = "template-check-artifacts"
# Properties of AWS::Serverless::* resources (and Globals) that hold a local path before `sam package`.
LOCAL_URI_PROPERTIES = ("CodeUri", "ContentUri", "DefinitionUri")
SAM_TIMEOUT_SECONDS = 120
MESSAGE_LIMIT = 300  # long cfn-lint messages (enum lists) are cut unless -v

CHECK_SOURCE = "cfn-lint (SAM source)"
CHECK_TRANSLATE = "sam-translator (offline)"
CHECK_TRANSLATED = "cfn-lint (translated CloudFormation)"
CHECK_SAM = "sam validate --lint"

# Rule ids ignored per check, each with the reason. Keep this short: fix the template instead when you can.
IGNORED_RULES: dict[str, dict[str, str]] = {
    CHECK_SOURCE: {},
    CHECK_TRANSLATED: {
        # The translator resolves parameter defaults inside some !Sub strings it copies (SharedLayer's
        # LayerName `!Sub fulfillment-shared-${Stage}` comes out as `Fn::Sub: fulfillment-shared-dev`),
        # which then looks like a needless !Sub. cfn-lint itself skips W1020 on SAM templates for this reason.
        "W1020": "translator artifact: parameter defaults resolved inside Fn::Sub",
    },
}


@dataclass
class Finding:
    rule_id: str
    level: str  # "error" | "warning" | "info"
    message: str
    location: str = ""
    ignored_because: str = ""


@dataclass
class CheckResult:
    name: str
    findings: list[Finding] = field(default_factory=list)
    skipped: str = ""  # reason, when the check did not run
    note: str = ""  # one line shown on success
    seconds: float = 0.0

    def count(self, level: str) -> int:
        return sum(1 for f in self.findings if f.level == level and not f.ignored_because)

    @property
    def ignored(self) -> int:
        return sum(1 for f in self.findings if f.ignored_because)


# ---------------------------------------------------------------- cfn-lint


def _display(path: Path) -> str:
    """A path relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _level_of(rule_id: str) -> str:
    return {"E": "error", "W": "warning", "I": "info"}.get(rule_id[:1], "error")


def run_cfn_lint(template: Path, check: str, display_name: str | None = None) -> CheckResult:
    """cfn-lint through its Python API, region us-east-1, honouring a .cfnlintrc in the working directory."""
    from cfnlint.api import ManualArgs, lint_file

    result = CheckResult(check)
    ignored = IGNORED_RULES.get(check, {})
    display_name = display_name or _display(template)
    for match in lint_file(template, config=ManualArgs(regions=[REGION])):
        rule_id = str(match.rule.id)
        path = getattr(match, "path", None)
        where = f"{display_name}:{match.linenumber}:{match.columnnumber}"
        if path:
            where = f"{'/'.join(map(str, path))} ({where})"
        result.findings.append(
            Finding(rule_id, _level_of(rule_id), str(match.message), where, ignored.get(rule_id, ""))
        )
    return result


# ---------------------------------------------------------------- translation


def load_template(template: Path) -> dict[str, Any]:
    """The template as plain dicts/lists, short-form intrinsics in their long form (cfn-lint's decoder)."""
    from cfnlint.decode import decode

    data, matches = decode(str(template))
    if matches or not isinstance(data, dict):
        messages = "; ".join(str(m.message) for m in matches) or "not a mapping"
        raise ValueError(f"cannot parse {template}: {messages}")
    # cfn-lint's nodes carry line marks; a JSON round trip gives the translator plain builtins.
    return json.loads(json.dumps(data))


def _placeholder_local_uris(template: dict[str, Any]) -> None:
    """Replace local artifact paths with S3 locations, as `sam package` does before the transform runs."""

    def fix(properties: Any) -> None:
        if not isinstance(properties, dict):
            return
        for key in LOCAL_URI_PROPERTIES:
            value = properties.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                key_path = value.strip("./") or "artifact"
                properties[key] = f"s3://{ARTIFACT_BUCKET}/{key_path}"

    for section in (template.get("Globals") or {}).values():
        fix(section)
    for resource in (template.get("Resources") or {}).values():
        if isinstance(resource, dict) and str(resource.get("Type", "")).startswith("AWS::Serverless::"):
            fix(resource.get("Properties"))


def translate(sam_template: dict[str, Any]) -> dict[str, Any]:
    """SAM -> CloudFormation with aws-sam-translator, without any AWS call.

    Raises the translator's exceptions (InvalidDocumentException carries the list of causes).
    """
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # Its metrics are never published here; silence the "unpublished metrics" warning about that.
    logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)
    template = copy.deepcopy(sam_template)
    _placeholder_local_uris(template)
    # The translator only reads `region_name` from the session; a stub keeps boto3's profile/credential
    # lookup (and any AWS_PROFILE in the environment) out of it.
    session = SimpleNamespace(region_name=REGION)
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session)  # type: ignore[arg-type]
    # Parameter defaults are added by the translator itself (SamParameterValues.add_default_parameter_values).
    pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": PARTITION}
    # Managed policy names resolve from the map bundled with the translator; this stub is the fallback
    # that would otherwise list IAM policies. We use inline Statement policies only.
    return translator.translate(sam_template=template, parameter_values=pseudo, get_managed_policy_map=lambda: {})


def translation_errors(exc: BaseException) -> list[Finding]:
    """Every cause of a translator exception, one finding each."""
    from samtranslator.model.exceptions import ExceptionWithMessage, InvalidDocumentException

    if isinstance(exc, InvalidDocumentException):
        causes = list(exc.causes) or [exc]
        return [Finding("SAM", "error", getattr(c, "message", str(c))) for c in causes]
    if isinstance(exc, ExceptionWithMessage):
        return [Finding("SAM", "error", exc.message)]
    detail = "".join(traceback.format_exception(exc)).rstrip()
    return [Finding("SAM", "error", f"translator crashed: {exc!r}\n{detail}")]


def run_translation(template: Path, output: Path) -> CheckResult:
    result = CheckResult(CHECK_TRANSLATE)
    output.unlink(missing_ok=True)  # never leave a stale translation behind a failed one
    try:
        import samtranslator  # noqa: F401
    except ImportError:
        result.findings.append(
            Finding(
                "SAM",
                "error",
                "aws-sam-translator is not installed in this venv (pip install aws-sam-translator)",
            )
        )
        return result
    try:
        sam_template = load_template(template)
    except ValueError as exc:
        result.skipped = f"{exc} (see the source check)"
        return result
    try:
        translated = translate(sam_template)
    except Exception as exc:  # the translator's own exceptions and any crash: report, never pass
        result.findings.extend(translation_errors(exc))
        return result
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(translated, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    result.note = f"{len(translated.get('Resources', {}))} CloudFormation resources -> {_display(output)}"
    return result


# ---------------------------------------------------------------- API paths

CHECK_API_PATHS = "API event paths (API Gateway resource rules)"
# A path part is literal ([A-Za-z0-9._-]+) or a whole-segment parameter: {name} or a greedy {name+}.
_PATH_PART = re.compile(r"^(?:[A-Za-z0-9._\-]+|\{[A-Za-z0-9._\-]+\+?\})$")


def run_api_paths(template: Path) -> CheckResult:
    """Every Api event's Path must be a valid API Gateway resource path.

    Neither cfn-lint nor the translator looks inside the string: a path such as
    "/orders/{order_id, Auth: {Authorizer: AWS_IAM}}/cancel" translates and lints cleanly, and then
    fails `sam deploy` (API Gateway rejects the path part) - and the Auth it meant to set is not set.
    """
    result = CheckResult(CHECK_API_PATHS)
    try:
        data = load_template(template)
    except ValueError as exc:
        result.skipped = f"{exc} (see the source check)"
        return result
    checked = 0
    for logical_id, resource in (data.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        for name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
            if not isinstance(event, dict) or event.get("Type") not in ("Api", "HttpApi"):
                continue
            path = (event.get("Properties") or {}).get("Path")
            if not isinstance(path, str):
                continue
            checked += 1
            where = f"Resources/{logical_id}/Properties/Events/{name}/Properties/Path"
            parts = path.split("/")
            bad = [part for part in parts[1:] if not _PATH_PART.match(part)] if path != "/" else []
            if not path.startswith("/") or bad:
                result.findings.append(
                    Finding(
                        "API-PATH",
                        "error",
                        f"{path!r}: not a valid API Gateway path"
                        + (f" (bad part(s): {', '.join(repr(b) for b in bad)})" if bad else " (must start with /)"),
                        where,
                    )
                )
    result.note = f"{checked} API event paths"
    return result


# ---------------------------------------------------------------- sam validate


def run_sam_validate(template: Path, sam: str | None) -> CheckResult:
    result = CheckResult(CHECK_SAM)
    if not sam:
        result.skipped = "no `sam` executable on PATH (aws-sam-cli is optional; install it in its own venv)"
        return result
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)
    # The project venv's variables must not leak into aws-sam-cli's own interpreter.
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    command = [sam, "validate", "--lint", "--template", str(template), "--region", REGION]
    try:
        proc = subprocess.run(
            command,
            cwd=template.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=SAM_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        result.findings.append(Finding("sam", "error", f"{' '.join(command)}: {exc}"))
        return result
    output = "\n".join(part.strip() for part in (proc.stdout, proc.stderr) if part.strip())
    if proc.returncode != 0:
        result.findings.append(Finding("sam", "error", f"exit {proc.returncode}: {output or '(no output)'}"))
    else:
        result.note = output.splitlines()[-1] if output else "ok"
    return result


# ---------------------------------------------------------------- report


def _short(message: str, verbose: bool) -> str:
    message = message.strip()
    if verbose or len(message) <= MESSAGE_LIMIT:
        return message
    return message[:MESSAGE_LIMIT].rstrip() + f" ... [{len(message) - MESSAGE_LIMIT} more chars, -v for all]"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def report(results: Iterable[CheckResult], *, strict: bool, verbose: bool, out: Any = None) -> int:
    out = out or sys.stdout
    results = list(results)
    errors = warnings = 0
    for i, res in enumerate(results, 1):
        head = f"[{i}/{len(results)}] {res.name}"
        if res.skipped:
            print(f"{head}: skipped - {res.skipped}", file=out)
            continue
        e, w, n = res.count("error"), res.count("warning"), res.count("info")
        errors, warnings = errors + e, warnings + w
        summary = "ok" if not (e or w or n) else f"{e} error(s), {w} warning(s)" + (f", {n} info" if n else "")
        if res.ignored:
            summary += f", {res.ignored} ignored"
        print(f"{head}: {summary} ({res.seconds:.1f}s)", file=out)
        if res.note:
            print(f"      {res.note}", file=out)
        order = {"error": 0, "warning": 1, "info": 2}
        for f in sorted(res.findings, key=lambda f: (bool(f.ignored_because), order.get(f.level, 3))):
            tag = f"ignored {f.rule_id}" if f.ignored_because else f.rule_id
            where = f" at {f.location}" if f.location else ""
            print(f"  {tag}{where}", file=out)
            print(_indent(_short(f.message, verbose), "      "), file=out)
            if f.ignored_because:
                print(f"      (ignored: {f.ignored_because})", file=out)
    failed = errors > 0 or (strict and warnings > 0)
    verdict = "FAIL" if failed else "PASS"
    rule = " (warnings fail: --strict)" if strict else " (warnings do not fail without --strict)"
    print(f"template-check: {verdict} - {errors} error(s), {warnings} warning(s){rule}", file=out)
    return 1 if failed else 0


# ---------------------------------------------------------------- main


def _timed(fn: Any, *args: Any) -> CheckResult:
    start = time.perf_counter()
    res: CheckResult = fn(*args)
    res.seconds = time.perf_counter() - start
    return res


def run_checks(template: Path, output: Path, *, sam: str | None) -> list[CheckResult]:
    results = [_timed(run_cfn_lint, template, CHECK_SOURCE)]
    translation = _timed(run_translation, template, output)
    results.append(translation)
    if translation.skipped or translation.count("error"):
        results.append(CheckResult(CHECK_TRANSLATED, skipped="no translated template"))
    else:
        results.append(_timed(run_cfn_lint, output, CHECK_TRANSLATED))
    results.append(_timed(run_api_paths, template))
    results.append(_timed(run_sam_validate, template, sam))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fulfillment_local.template_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("template", nargs="?", default="template.yaml", type=Path)
    parser.add_argument(
        "--output",
        type=Path,
        help="translated template (default: .aws-sam/translated-template.json beside it)",
    )
    parser.add_argument("--strict", action="store_true", help="warnings fail too")
    parser.add_argument("--no-sam", action="store_true", help="skip `sam validate --lint` even if sam is on PATH")
    parser.add_argument("--sam", help="the sam executable to use (default: `sam` on PATH)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print long messages whole")
    args = parser.parse_args(argv)

    template: Path = args.template.resolve()
    if not template.is_file():
        print(f"template-check: no such template: {args.template}", file=sys.stderr)
        return 2
    output: Path = (args.output or template.parent / ".aws-sam" / "translated-template.json").resolve()
    sam = None if args.no_sam else (args.sam or shutil.which("sam"))

    print(f"template-check: {template} (cfn-lint, aws-sam-translator; region {REGION})")
    results = run_checks(template, output, sam=sam)
    return report(results, strict=args.strict, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
