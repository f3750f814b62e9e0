"""Safety of pylmer's formula language (tests/reference/formula/README.md, "Safety").

Formula text, ``weights=`` / ``offset=`` / ``contrasts=`` / ``na_action=`` values,
``update()`` formulas, ``re_form``, ``newdata`` and CLI arguments are evaluated by pylmer's
own R evaluator: none may run Python code, hang, or fail with an internal error. Every
attack below must:

* raise an exception that is a ``pylmer.exceptions.PylmerError`` (the ``FIT_OR_REFUSE``
  attacks are valid R, e.g. ``9^9^9`` is ``Inf`` and 1000 nested parentheses parse: they
  may also fit);
* not raise an internal error (RecursionError, SyntaxError, NameError, KeyError,
  IndexError, AttributeError, TypeError, unless it is a PylmerError);
* create no file in the working directory (a temporary directory holding only
  ``secret.txt`` = "12345") nor ``/tmp/pylmer_pwned*``, and never show the secret;
* finish: attacks that could hang (huge powers, deep nesting, 100k characters, sleeps,
  loops, ``breakpoint()``, exits) run in a child process (``multiprocessing``, fork where
  available) killed after 20 s. The others run in-process.

The payloads are harmless by design (they touch marker files), since an evaluator that
runs Python would really execute them.

Runtime: the guarded attacks run in one batch (4 worker processes at a time, 20 s each at
most) and the CLI attacks (``python -m pylmer.cli fit FORMULA --data sleepstudy``, 60 s
each at most) are all started at once in the background, so that even an implementation
that hangs on many of them fails within about a minute. Markers in /tmp of the background
attacks carry the attack's id (``/tmp/pylmer_pwned_<id>``) so each is attributed to its
attack.
"""

from __future__ import annotations

import glob
import multiprocessing as mp
import os
import subprocess
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from multiprocessing import connection as mp_connection
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pylmer
from pylmer.exceptions import PylmerError

GUARD_SECONDS = 20.0  # wall-clock limit of one guarded attack
CLI_SECONDS = 60.0  # wall-clock limit of one CLI run
GUARD_WORKERS = 4
SECRET = "12345"
TMP_MARKERS = "/tmp/pylmer_pwned*"
INTERNAL_ERRORS = (RecursionError, SyntaxError, NameError, KeyError, IndexError,
                   AttributeError, TypeError)
BENIGN = "Reaction ~ Days + (1|Subject)"

REFUSE = "refuse"  # must raise a PylmerError
FIT_OR_REFUSE = "fit or refuse"  # valid R: may fit, or raise a PylmerError; must finish


@dataclass(frozen=True)
class Attack:
    """One attack: ``call`` is ``lmer``, ``update`` or ``predict``; ``args`` / ``kwargs``
    are its arguments. The text ``@MARK@`` in a string argument becomes
    ``/tmp/pylmer_pwned_<tag>``."""

    id: str
    call: str
    args: tuple = ()
    kwargs: tuple = ()  # (name, value) pairs
    expect: str = REFUSE
    guarded: bool = False

    def render(self, value, tag: str):
        if isinstance(value, str):
            return value.replace("@MARK@", f"/tmp/pylmer_pwned_{tag}")
        if isinstance(value, dict):
            return {k: self.render(v, tag) for k, v in value.items()}
        return value

    def arguments(self, tag: str | None = None) -> tuple[tuple, dict]:
        tag = tag or self.id
        return (tuple(self.render(a, tag) for a in self.args),
                {k: self.render(v, tag) for k, v in self.kwargs})

    def describe(self) -> str:
        args, kwargs = self.arguments()
        parts = [_short(repr(a)) for a in args] + [f"{k}={_short(repr(v))}"
                                                   for k, v in kwargs.items()]
        return f"{self.call}({', '.join(parts)})"


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def F(id, formula, expect=REFUSE, guarded=False, **kwargs) -> Attack:
    """An attack through ``pylmer.lmer(formula, sleepstudy, **kwargs)``."""
    return Attack(id, "lmer", (formula,), tuple(kwargs.items()), expect, guarded)


_SUBJ = " + (1|Subject)"
DEEP_PARENS = "Reaction ~ " + "(" * 1000 + "Days" + ")" * 1000 + _SUBJ
DEEP_LOG = "Reaction ~ " + "log(" * 1000 + "Days" + ")" * 1000 + _SUBJ
DEEP_I = "Reaction ~ " + "I(" * 1000 + "Days" + ")" * 1000 + _SUBJ
DEEP_MINUS = "Reaction ~ I(" + "-" * 5000 + "Days)" + _SUBJ
DEEP_BAR = "Reaction ~ Days + " + "(" * 1000 + "1 | Subject" + ")" * 1000
LONG_SUM = "Reaction ~ Days" + " + Days" * 14000 + _SUBJ  # ~100k characters, valid R
LONG_NAME = "Reaction ~ " + "D" * 100_000 + _SUBJ  # an unknown 100k-character name
LONG_CODE = ("Reaction ~ I(__import__('os').system('touch @MARK@')" + " + 0*Days" * 12500
             + ")" + _SUBJ)

FORMULA_ATTACKS = [
    # -- the brief's attacks
    F("print_open_file", "Reaction ~ print('x', file=open('pwned.txt', 'w')) + (1|Subject)"),
    F("eval_import_system",
      "Reaction ~ I(eval(\"__import__('os').system('touch /tmp/pylmer_pwned')\"))"
      " + (1|Subject)"),
    F("eval_read_secret", "Reaction ~ I(int(eval(\"open('secret.txt').read()\")))"
      " + (1|Subject)"),
    F("inf_times_zero", "Reaction ~ I(Days + 0*9^9^9) + (1|Subject)", FIT_OR_REFUSE, True),
    F("deep_parens_1000", DEEP_PARENS, FIT_OR_REFUSE, True),
    F("days_pow_1e10", "Reaction ~ I(Days^(10^10)) + (1|Subject)", FIT_OR_REFUSE, True),
    F("deep_log_1000", DEEP_LOG, FIT_OR_REFUSE, True),
    F("long_formula_100k", LONG_SUM, FIT_OR_REFUSE, True),
    F("os_system_in_I", "Reaction ~ I(os.system('touch pwned')) + (1|Subject)"),
    F("string_code_in_I", "Reaction ~ I(\"__import__('os')\") + (1|Subject)"),
    # -- dunder names and attribute access through dotted names
    F("dotted_dunder_in_I", "Reaction ~ I(Days.__class__) + (1|Subject)"),
    F("dotted_dunder_bare", "Reaction ~ Days.__class__ + (1|Subject)"),
    F("dunder_subclasses",
      "Reaction ~ I(Days.__class__.__mro__[-1].__subclasses__()) + (1|Subject)"),
    F("dunder_globals",
      "Reaction ~ I(len(Days.__init__.__globals__)) + (1|Subject)"),
    F("dunder_import_bare", "Reaction ~ __import__ + (1|Subject)"),
    F("dunder_builtins", "Reaction ~ I(__builtins__) + (1|Subject)"),
    F("series_method", "Reaction ~ I(Days.to_csv('pwned.txt')) + (1|Subject)"),
    F("numpy_dotted", "Reaction ~ numpy.log1p(Days) + (1|Subject)"),
    # -- backquoted function names
    F("backquoted_import", "Reaction ~ `__import__`('os') + (1|Subject)"),
    F("backquoted_eval", "Reaction ~ I(`eval`(\"open('pwned.txt', 'w')\")) + (1|Subject)"),
    F("backquoted_getattr", "Reaction ~ `getattr`(Days, '__class__') + (1|Subject)"),
    F("backquoted_open_call", "Reaction ~ `open`('pwned.txt', 'w') + (1|Subject)"),
    # -- Python builtins and syntax
    F("lambda_call",
      "Reaction ~ I((lambda: __import__('os').system('touch pwned'))()) + (1|Subject)"),
    F("lambda_arg", "Reaction ~ I((lambda x: open('pwned.txt', 'w'))(Days)) + (1|Subject)"),
    F("getattr_class", "Reaction ~ I(getattr(Days, '__class__')) + (1|Subject)"),
    F("globals_len", "Reaction ~ I(len(globals())) + (1|Subject)"),
    F("dir_len", "Reaction ~ I(Days + len(dir())) + (1|Subject)"),
    F("open_write", "Reaction ~ I(open('pwned.txt', 'w').write('x')) + (1|Subject)"),
    F("open_read_secret", "Reaction ~ I(Days + len(open('secret.txt').read()))"
      " + (1|Subject)"),
    F("exec_write", "Reaction ~ I(exec(\"open('pwned.txt', 'w').write('x')\")) + (1|Subject)"),
    F("compile_eval", "Reaction ~ I(eval(compile(\"open('pwned.txt', 'w')\", 'f', 'eval')))"
      " + (1|Subject)"),
    F("import_subprocess",
      "Reaction ~ I(__import__('subprocess').run(['touch', 'pwned'])) + (1|Subject)"),
    F("importlib_os", "Reaction ~ I(__import__('importlib').import_module('os')"
      ".system('touch pwned')) + (1|Subject)"),
    F("format_method",
      "Reaction ~ I(\"{0.__class__.__init__.__globals__}\".format(Days)) + (1|Subject)"),
    F("percent_format", "Reaction ~ I(\"%s\" % open('pwned.txt', 'w')) + (1|Subject)"),
    F("fstring", "Reaction ~ I(f\"{open('pwned.txt', 'w')}\") + (1|Subject)"),
    F("walrus",
      "Reaction ~ I((o := __import__('os')).system('touch pwned')) + (1|Subject)"),
    F("list_comprehension", "Reaction ~ I([open('pwned.txt', 'w') for _ in [1]])"
      " + (1|Subject)"),
    F("dict_unpack", "Reaction ~ I(dict(**{'a': open('pwned.txt', 'w')})) + (1|Subject)"),
    F("ternary", "Reaction ~ I(Days if open('pwned.txt', 'w') else Days) + (1|Subject)"),
    F("pandas_at_local", "Reaction ~ I(@Days) + (1|Subject)"),
    F("formulaic_Q", "Reaction ~ Q(\"__import__('os').system('touch pwned')\")"
      " + (1|Subject)"),
    F("env_leak", "Reaction ~ I(__import__('os').environ) + (1|Subject)"),
    # -- statement separators, newlines, control characters
    F("semicolon_after",
      "Reaction ~ Days + (1|Subject); __import__('os').system('touch pwned')"),
    F("semicolon_inside", "Reaction ~ I(Days; open('pwned.txt', 'w')) + (1|Subject)"),
    F("newline_code",
      "Reaction ~ Days + (1|Subject)\n__import__('os').system('touch pwned')"),
    F("newline_in_call", "Reaction ~ I(Days +\nopen('pwned.txt', 'w')) + (1|Subject)"),
    F("null_byte",
      "Reaction ~ Days\x00__import__('os').system('touch pwned') + (1|Subject)"),
    F("code_as_last_term",
      "Reaction ~ Days + (1|Subject) + __import__('os').system('touch pwned')"),
    # -- unicode homoglyphs (NFKC folds fullwidth / mathematical letters to ASCII)
    F("homoglyph_fullwidth_eval",
      "Reaction ~ I(\uff45\uff56\uff41\uff4c(\"open('pwned.txt', 'w')\")) + (1|Subject)"),
    F("homoglyph_mathbold_open",
      "Reaction ~ I(\U0001d428\U0001d429\U0001d41e\U0001d427('pwned.txt', 'w'))"
      " + (1|Subject)"),
    F("homoglyph_cyrillic_column", "Reaction ~ D\u0430ys + (1|Subject)"),
    # -- code in strings given to known R functions (type errors for pylmer)
    F("string_code_in_log",
      "Reaction ~ log(\"__import__('os').system('touch pwned')\") + (1|Subject)"),
    F("string_code_in_factor", "Reaction ~ factor(\"open('pwned.txt', 'w')\") + (1|Subject)"),
    F("string_code_in_poly",
      "Reaction ~ poly(Days, \"__import__('os').system('touch pwned')\") + (1|Subject)"),
    F("string_code_in_ns_df", "Reaction ~ ns(Days, df = \"eval('3')\") + (1|Subject)"),
    F("string_code_in_offset",
      "Reaction ~ Days + offset(\"open('pwned.txt', 'w')\") + (1|Subject)"),
    F("string_code_in_C",
      "Reaction ~ C(factor(Days), \"__import__('os').system('touch pwned')\")"
      " + (1|Subject)"),
    # -- code in other parts of the formula
    F("code_in_response", "__import__('os').system('touch pwned') ~ Days + (1|Subject)"),
    F("code_in_group", "Reaction ~ Days + (1 | __import__('os').system('touch pwned'))"),
    F("code_in_bar_lhs", "Reaction ~ Days + (open('pwned.txt', 'w') | Subject)"),
    F("code_in_percent_in", "Reaction ~ Days %in% __import__('os') + (1|Subject)"),
    F("unknown_percent_op", "Reaction ~ I(Days %eval% 1) + (1|Subject)"),
    # -- may hang, exit, tamper or prompt: in a child process
    F("starstar_power", "Reaction ~ I(Days + 0*9**9**9) + (1|Subject)", FIT_OR_REFUSE, True),
    F("inf_literal", "Reaction ~ I(Days + 0*1e999999) + (1|Subject)", FIT_OR_REFUSE, True),
    F("deep_I_1000", DEEP_I, FIT_OR_REFUSE, True),
    F("deep_unary_minus_5000", DEEP_MINUS, FIT_OR_REFUSE, True),
    F("deep_parens_in_bar", DEEP_BAR, FIT_OR_REFUSE, True),
    F("long_name_100k", LONG_NAME, REFUSE, True),
    F("long_code_100k", LONG_CODE, REFUSE, True),
    F("breakpoint", "Reaction ~ I(breakpoint()) + (1|Subject)", REFUSE, True),
    F("input_prompt", "Reaction ~ I(input('x')) + (1|Subject)", REFUSE, True),
    F("sys_exit", "Reaction ~ I(exit(3)) + (1|Subject)", REFUSE, True),
    F("os_exit", "Reaction ~ I(__import__('os')._exit(0)) + (1|Subject)", REFUSE, True),
    F("sleep", "Reaction ~ I(__import__('time').sleep(600)) + (1|Subject)", REFUSE, True),
    F("exec_loop", "Reaction ~ I(exec('while True: pass')) + (1|Subject)", REFUSE, True),
    F("setrecursionlimit",
      "Reaction ~ I(__import__('sys').setrecursionlimit(40)) + (1|Subject)", REFUSE, True),
    F("tamper_pylmer",
      "Reaction ~ I(setattr(__import__('pylmer'), 'lmer', None)) + (1|Subject)",
      REFUSE, True),
    F("guarded_touch_tmp",
      "Reaction ~ I(eval(\"__import__('os').system('touch @MARK@')\")) + (1|Subject)",
      REFUSE, True),
]

ARGUMENT_ATTACKS = [
    # weights= / offset= / contrasts= / na_action= strings
    F("weights_import_system", BENIGN, weights="__import__('os').system('touch pwned')"),
    F("weights_open", BENIGN, weights="open('pwned.txt', 'w')"),
    F("weights_dunder", BENIGN, weights="Days.__class__"),
    F("weights_eval_secret", BENIGN, weights="eval(\"open('secret.txt').read()\")"),
    F("weights_inf", BENIGN, REFUSE, True, weights="0*9^9^9"),
    F("offset_import_system", BENIGN, offset="__import__('os').system('touch pwned')"),
    F("offset_open", BENIGN, offset="open('pwned.txt', 'w')"),
    F("offset_lambda", BENIGN, offset="(lambda: open('pwned.txt', 'w'))()"),
    F("offset_inf", BENIGN, FIT_OR_REFUSE, True, offset="Days + 9^9^9"),
    F("contrasts_import_system", "Reaction ~ Dayf + (1|Subject)",
      contrasts={"Dayf": "__import__('os').system('touch pwned')"}),
    F("contrasts_open", "Reaction ~ Dayf + (1|Subject)",
      contrasts={"Dayf": "open('pwned.txt', 'w')"}),
    F("na_action_import_system", BENIGN, na_action="__import__('os').system('touch pwned')"),
    # update() formulas and arguments of a fitted model
    Attack("update_print_open", "update",
           ("Reaction ~ print('x', file=open('pwned.txt', 'w')) + (1|Subject)",)),
    Attack("update_dot_eval", "update",
           (". ~ . + I(eval(\"__import__('os').system('touch pwned')\"))",)),
    Attack("update_dot_dunder", "update", (". ~ . - Days.__class__",)),
    Attack("update_semicolon", "update", (". ~ .; open('pwned.txt', 'w')",)),
    Attack("update_weights_code", "update", (None,),
           (("weights", "__import__('os').system('touch pwned')"),)),
    Attack("update_inf", "update", (". ~ . + I(0*9^9^9)",), (), FIT_OR_REFUSE, True),
    Attack("update_deep_parens", "update",
           (". ~ . + " + "(" * 1000 + "Days" + ")" * 1000,), (), FIT_OR_REFUSE, True),
    # predict(): re_form and newdata
    Attack("predict_re_form_code", "predict", ("code_free",),
           (("re_form", "__import__('os').system('touch pwned')"),)),
    # lme4 keeps only the bars of re.form (findbars): R predicts here; the rest is never run
    Attack("predict_re_form_formula_code", "predict", ("code_free",),
           (("re_form", "~(1 | Subject) + open('pwned.txt', 'w')"),), FIT_OR_REFUSE),
    Attack("predict_newdata_code_named_column_instead_of_Days", "predict",
           ("code_named_days",), (("re_form", "NA"),)),
    Attack("predict_newdata_code_values", "predict", ("code_values",),
           (("re_form", "NA"),)),
    Attack("predict_newdata_code_levels", "predict", ("code_levels",)),
]

ALL_ATTACKS = FORMULA_ATTACKS + ARGUMENT_ATTACKS
IN_PROCESS = [a for a in ALL_ATTACKS if not a.guarded]
GUARDED = [a for a in ALL_ATTACKS if a.guarded]

# the CLI: formula attacks given as FORMULA, and code given as --data
CLI_FORMULA_IDS = ["print_open_file", "eval_import_system", "guarded_touch_tmp",
                   "dotted_dunder_in_I", "backquoted_import", "lambda_call", "fstring",
                   "walrus", "semicolon_after", "newline_code", "homoglyph_fullwidth_eval",
                   "string_code_in_I", "inf_times_zero", "deep_parens_1000",
                   "long_code_100k", "os_exit", "breakpoint"]
_BY_ID = {a.id: a for a in ALL_ATTACKS}
assert len(_BY_ID) == len(ALL_ATTACKS), "attack ids must be unique"


@dataclass(frozen=True)
class CliRun:
    id: str
    argv: tuple  # after "pylmer": the command and its arguments; @MARK@ rendered by tag
    expect: str


CLI_RUNS = (
    [CliRun(f"cli-{i}", ("fit", _BY_ID[i].args[0], "--data", "sleepstudy"),
            _BY_ID[i].expect) for i in CLI_FORMULA_IDS]
    + [CliRun("cli-data_code", ("fit", BENIGN, "--data",
                                "__import__('os').system('touch @MARK@')"), REFUSE),
       CliRun("cli-data_open", ("fit", BENIGN, "--data", "open('pwned.txt', 'w')"), REFUSE),
       CliRun("cli-benign", ("fit", BENIGN, "--data", "sleepstudy"), "fit")]
)
BACKGROUND_TAGS = {a.id for a in GUARDED} | {r.id for r in CLI_RUNS}


# ---------------------------------------------------------------------------------------
# What the attacked calls act on


def _sleep_data() -> pd.DataFrame:
    data = pylmer.load_dataset("sleepstudy")
    # a factor column for the contrasts= attacks
    data["Dayf"] = pd.Categorical(data["Days"].astype(int).astype(str),
                                  categories=[str(i) for i in range(10)])
    return data


_BENIGN_MODEL: list = []


def _benign_model():
    if not _BENIGN_MODEL:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _BENIGN_MODEL.append(pylmer.lmer(BENIGN, pylmer.load_dataset("sleepstudy")))
    return _BENIGN_MODEL[0]


CODE = "__import__('os').system('touch pwned')"


def _newdata(kind: str) -> pd.DataFrame:
    base = pylmer.load_dataset("sleepstudy").iloc[[0, 11, 25, 40]][["Days", "Subject"]]
    base = base.reset_index(drop=True)
    if kind == "code_free":
        return base
    if kind == "code_extra_column":  # legitimate: an extra column is ignored
        return base.assign(**{CODE: base["Days"]})
    if kind == "code_named_days":  # Days is missing; a column named like code has it
        return base.rename(columns={"Days": CODE})
    if kind == "code_values":  # Days holds code strings
        return base.assign(Days=np.array([CODE, "open('pwned.txt', 'w')",
                                          "eval('1')", "__class__"], dtype=object))
    if kind == "code_levels":  # new, code-like levels of the grouping factor
        return base.assign(Subject=pd.Categorical([CODE, CODE, "eval('1')", "os"]))
    raise ValueError(kind)


def _model_summary(model) -> dict:
    return {"fixef": {str(k): float(v) for k, v in model.fixef().items()}}


def _invoke(attack: Attack, tag: str | None = None):
    args, kwargs = attack.arguments(tag)
    if attack.call == "lmer":
        return _model_summary(pylmer.lmer(args[0], _sleep_data(), **kwargs))
    if attack.call == "update":
        return _model_summary(_benign_model().update(*args, **kwargs))
    if attack.call == "predict":
        values = _benign_model().predict(_newdata(args[0]), **kwargs)
        return {"predict": [float(v) for v in np.asarray(values, dtype=float).ravel()]}
    raise ValueError(attack.call)


def _prepare(attack: Attack) -> None:
    """Everything the attacked call needs, built before it (so that a failure here is not
    mistaken for the attack's)."""
    _sleep_data()
    if attack.call in ("update", "predict"):
        _benign_model()


def _summarize(fn, catch=(Exception, SystemExit)) -> dict:
    """Run ``fn`` recording warnings; what happened as plain (picklable) data."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
        except catch as e:
            out = {
                "status": "raised",
                "type": f"{type(e).__module__}.{type(e).__qualname__}",
                "pylmer_error": isinstance(e, PylmerError),
                "internal": [c.__name__ for c in INTERNAL_ERRORS if isinstance(e, c)],
                "message": str(e),
                "traceback": traceback.format_exc(),
            }
        else:
            out = {"status": "returned", "value": value}
    out["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    return out


# ---------------------------------------------------------------------------------------
# Guarded runs: one child process per attack, killed after GUARD_SECONDS


def _mp_context():
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def _limit_memory() -> None:
    """Cap the child's address space (current size + 4 GiB) against memory bombs."""
    try:
        import resource

        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = vm + 4 * 1024**3
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, StopIteration, ValueError):
        pass


def _breakpoint_called(*args, **kwargs):
    Path("breakpoint_called").write_text("breakpoint() was called\n")


def _child(conn, cwd: str, attack: Attack) -> None:
    try:
        os.chdir(cwd)
        _limit_memory()
        sys.breakpointhook = _breakpoint_called  # not pytest's debugger: leave a marker
        warnings.simplefilter("ignore")
        _prepare(attack)
    except BaseException as e:  # noqa: BLE001
        conn.send({"status": "setup failed", "message": f"{type(e).__name__}: {e}",
                   "traceback": traceback.format_exc(), "warnings": []})
        conn.close()
        return
    outcome = _summarize(lambda: _invoke(attack), catch=BaseException)
    conn.send(outcome)
    conn.close()


def run_guarded(jobs: list[tuple[Attack, Path]], timeout: float = GUARD_SECONDS,
                workers: int = GUARD_WORKERS) -> dict[str, dict]:
    """Run each attack in its own child process (``workers`` at a time); a child that has
    not reported after ``timeout`` seconds is killed and reported as a timeout."""
    ctx = _mp_context()
    queue = list(jobs)
    running: dict[str, tuple] = {}
    results: dict[str, dict] = {}
    while queue or running:
        while queue and len(running) < workers:
            attack, cwd = queue.pop(0)
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(send, str(cwd), attack), daemon=True)
            proc.start()
            send.close()
            running[attack.id] = (proc, recv, time.monotonic())
        ready = set(mp_connection.wait([r for _, r, _ in running.values()], timeout=0.05))
        now = time.monotonic()
        for aid, (proc, recv, started) in list(running.items()):
            if recv in ready:
                try:
                    results[aid] = recv.recv()
                except (EOFError, OSError):
                    proc.join(5)
                    results[aid] = {"status": "died", "exitcode": proc.exitcode,
                                    "warnings": []}
                results[aid]["seconds"] = now - started
            elif now - started > timeout:
                results[aid] = {"status": "timeout", "seconds": now - started, "warnings": []}
            else:
                continue
            if proc.is_alive():
                proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
            recv.close()
            del running[aid]
    return results


# ---------------------------------------------------------------------------------------
# Markers and checks


def _markers() -> dict[str, tuple[int, int]]:
    out = {}
    for path in glob.glob(TMP_MARKERS):
        try:
            st = os.stat(path)
        except OSError:
            continue
        out[path] = (st.st_ino, st.st_mtime_ns)
    return out


def _changed_markers(before: dict, only_tag: str | None = None) -> list[str]:
    """Markers made or touched since ``before``: for a background attack (``only_tag``)
    its own and any that carries no background attack's id (then it cannot be told which
    attack made it); for in-process tests all but those of the background attacks."""
    changed = []
    for path, stamp in _markers().items():
        if before.get(path) == stamp:
            continue
        name = os.path.basename(path)
        tag = name[len("pylmer_pwned_"):] if name.startswith("pylmer_pwned_") else None
        if tag not in BACKGROUND_TAGS:
            changed.append(path if only_tag is None or tag is not None else
                           f"{path} (no attack id: this or another background attack)")
        elif tag == only_tag:
            changed.append(path)
    return changed


def _remove_new(before: dict, paths: list[str]) -> None:
    for path in paths:
        path = path.split(" (")[0]
        if path not in before:  # made by this test: clean up
            try:
                os.remove(path)
            except OSError:
                pass


def _make_sandbox(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "secret.txt").write_text(SECRET)
    return path


def _sandbox_problems(path: Path) -> list[str]:
    problems = []
    extra = sorted(p.name for p in path.iterdir() if p.name != "secret.txt")
    if extra:
        problems.append(f"files appeared in the working directory: {extra}")
    secret = path / "secret.txt"
    if not secret.exists() or secret.read_text() != SECRET:
        problems.append("secret.txt was removed or changed")
    return problems


def outcome_problems(outcome: dict, expect: str) -> list[str]:
    problems = []
    status = outcome["status"]
    if status == "timeout":
        problems.append(f"did not finish within {GUARD_SECONDS:g} s (killed)")
    elif status == "died":
        problems.append(f"the worker process died without reporting "
                        f"(exit code {outcome['exitcode']})")
    elif status == "setup failed":
        problems.append(f"setup (before the attack) failed: {outcome['message']}")
    elif status == "returned":
        if expect == REFUSE:
            problems.append(f"returned instead of raising a PylmerError: "
                            f"{_short(repr(outcome['value']))}")
    else:
        kind = outcome["type"]
        if outcome["internal"] and (not outcome["pylmer_error"]
                                    or kind.split(".")[-1] in outcome["internal"]):
            problems.append(f"internal error {kind} ({'/'.join(outcome['internal'])}): "
                            f"{_short(outcome['message'])}")
        elif not outcome["pylmer_error"]:
            problems.append(f"raised {kind}, not a pylmer.exceptions.PylmerError: "
                            f"{_short(outcome['message'])}")
    shown = [outcome.get("message", ""), repr(outcome.get("value", ""))] + \
        list(outcome.get("warnings", []))
    if any(SECRET in s for s in shown):
        problems.append("the secret (12345) shows in the error message, warnings or result")
    return problems


def _report(label: str, described: str, problems: list[str], outcome: dict | None) -> str:
    lines = [f"[{label}] {p}" for p in problems]
    lines.append(f"    call: {described}")
    if outcome and outcome.get("status") == "raised" and problems:
        lines.append("    traceback (last lines):\n" + "\n".join(
            "      " + s for s in outcome["traceback"].rstrip().splitlines()[-12:]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# In-process attacks


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    path = _make_sandbox(tmp_path / "cwd")
    monkeypatch.chdir(path)
    before = _markers()
    yield path, before
    _remove_new(before, _changed_markers(before))


@pytest.mark.parametrize("attack", IN_PROCESS, ids=[a.id for a in IN_PROCESS])
def test_attack_in_process(attack, sandbox):
    path, before = sandbox
    _prepare(attack)
    outcome = _summarize(lambda: _invoke(attack))
    problems = outcome_problems(outcome, attack.expect)
    problems += _sandbox_problems(path)
    problems += [f"created {m}" for m in _changed_markers(before)]
    assert not problems, _report(attack.id, attack.describe(), problems, outcome)


def test_benign_formula_fits(sandbox):
    """Sanity: an ordinary formula still fits, and nothing is written."""
    path, before = sandbox
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pylmer.PylmerWarning)
        m = pylmer.lmer(BENIGN, pylmer.load_dataset("sleepstudy"))
    assert list(m.fixef().index) == ["(Intercept)", "Days"]
    assert np.isfinite(m.REMLcrit())
    assert _sandbox_problems(path) == []
    assert _changed_markers(before) == []


def test_code_like_column_name_is_only_a_name(sandbox):
    """A column whose *name* looks like code is a name: backquoted in the formula it is
    that column (R's rule), never run; newdata may carry it, and an extra column named like
    code is ignored by predict()."""
    path, before = sandbox
    data = pylmer.load_dataset("sleepstudy")
    data[CODE] = data["Days"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pylmer.PylmerWarning)
        m = pylmer.lmer(f"Reaction ~ `{CODE}` + (1|Subject)", data)
        ref = pylmer.lmer(BENIGN, pylmer.load_dataset("sleepstudy"))
        # R names the column of a non-syntactic name with its backquotes: `...`
        assert list(m.fixef().index) == ["(Intercept)", f"`{CODE}`"], "column name of X"
        np.testing.assert_allclose(m.fixef().to_numpy(), ref.fixef().to_numpy(),
                                   rtol=1e-6)  # the same model as Days
        clean = _newdata("code_free")
        nd = clean.assign(**{CODE: clean["Days"]})
        np.testing.assert_allclose(np.asarray(m.predict(nd, re_form="NA"), dtype=float),
                                   np.asarray(ref.predict(clean, re_form="NA"), dtype=float),
                                   rtol=1e-6)  # predictions through the code-named column
        # an extra column named like code is ignored
        np.testing.assert_allclose(
            np.asarray(ref.predict(_newdata("code_extra_column"), re_form="NA"), dtype=float),
            np.asarray(ref.predict(clean, re_form="NA"), dtype=float), rtol=1e-12)
    assert _sandbox_problems(path) == [], "a file was written"
    assert _changed_markers(before) == [], "a /tmp marker was written"


# ---------------------------------------------------------------------------------------
# Background runs: the CLI (subprocesses started all at once) and the guarded attacks


def _cli_argv(run: CliRun) -> list[str]:
    """The command line; /tmp markers of the payloads (``@MARK@``, and the brief's literal
    /tmp/pylmer_pwned) carry the run's id."""
    mark = f"/tmp/pylmer_pwned_{run.id}"
    rendered = [a.replace("@MARK@", mark).replace("/tmp/pylmer_pwned'", mark + "'")
                for a in run.argv]
    return [sys.executable, "-m", "pylmer.cli", *rendered]


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    started = {}
    before = _markers()
    for run in CLI_RUNS:
        cwd = _make_sandbox(base / run.id)
        out = open(base / f"{run.id}.stdout", "w+")  # noqa: SIM115 -- closed at teardown
        err = open(base / f"{run.id}.stderr", "w+")  # noqa: SIM115
        proc = subprocess.Popen(_cli_argv(run), cwd=cwd, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        started[run.id] = (proc, cwd, out, err, time.monotonic())
    yield started, before
    for proc, _, out, err, _ in started.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
        err.close()
    _remove_new(before, [m for r in CLI_RUNS for m in _changed_markers(before, r.id)])


@pytest.fixture(scope="module")
def guarded_runs(tmp_path_factory, cli_runs):
    # cli_runs first: the CLI subprocesses run while the guarded batch does
    base = tmp_path_factory.mktemp("guarded")
    jobs = [(a, _make_sandbox(base / a.id)) for a in GUARDED]
    _prepare(Attack("warm-up", "predict"))  # fit the benign model once, before forking
    before = _markers()
    results = run_guarded(jobs)
    yield {a.id: (results[a.id], cwd) for a, cwd in jobs}, before
    _remove_new(before, [m for a in GUARDED for m in _changed_markers(before, a.id)])


@pytest.mark.parametrize("attack", GUARDED, ids=[a.id for a in GUARDED])
def test_attack_guarded(attack, guarded_runs):
    results, before = guarded_runs
    outcome, cwd = results[attack.id]
    problems = outcome_problems(outcome, attack.expect)
    problems += _sandbox_problems(cwd)
    problems += [f"created {m}" for m in _changed_markers(before, attack.id)]
    assert not problems, _report(attack.id, attack.describe(), problems, outcome)


@pytest.mark.parametrize("run", CLI_RUNS, ids=[r.id for r in CLI_RUNS])
def test_cli_attack(run, cli_runs):
    started, before = cli_runs
    proc, cwd, out, err, t0 = started[run.id]
    problems = []
    try:
        proc.wait(timeout=max(0.0, t0 + CLI_SECONDS - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        problems.append(f"did not finish within {CLI_SECONDS:g} s (killed)")
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read(), err.read()
    code = proc.returncode
    if not problems:
        if run.expect == REFUSE and code not in (1, 2):
            problems.append(f"exit status {code}, expected 1 or 2 (refused)")
        elif run.expect == FIT_OR_REFUSE and code not in (0, 1, 2):
            problems.append(f"exit status {code}, expected 0, 1 or 2")
        elif run.expect == "fit" and code != 0:
            problems.append(f"exit status {code}, expected 0 (the benign formula fits)")
    if "Traceback" in stderr:
        problems.append("a Python traceback on stderr")
    if "(Pdb)" in stdout or "(Pdb)" in stderr:
        problems.append("a debugger was started (breakpoint() ran)")
    if SECRET in stdout or SECRET in stderr:
        problems.append("the secret (12345) shows in the output")
    if run.expect == "fit" and "Days" not in stdout:
        problems.append("the summary does not show the fixed effect Days")
    problems += _sandbox_problems(cwd)
    problems += [f"created {m}" for m in _changed_markers(before, run.id)]
    assert not problems, "\n".join(
        [f"[{run.id}] {p}" for p in problems]
        + [f"    argv: {_short(repr(_cli_argv(run)[1:]))}",
           f"    stderr (last 800 characters): {stderr[-800:]!r}"])
