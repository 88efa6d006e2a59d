"""What a person sees: the verify and pins reports drawn at 80, 100 and 160 columns.

Each report is drawn with rich (`Console(width=…, force_terminal=True)`), plain
(`NO_COLOR`, `TERM=dumb`) and piped, and checked for what a reader needs: no line
wider than the terminal, every digest (short and full) and relation word whole on
one line, the verdict last, no escape code nor frame when plain, piped lines that
split into the documented fields. The README-like example is also frozen, one
golden file per width (`tests/cli/data/screen_verify_<width>.txt`): after an
intended change, regenerate with `python -m tests.cli.test_screen --update` and
review the diff. Every digest is sha256 of fixed bytes, computed here.
"""

from __future__ import annotations

import dataclasses
import io
import re
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from truedigest.core.pin_audit import Disagreement, PinAudit, PinEntry
from truedigest.core.verdicts import evaluate
from truedigest.model.diagnosis import Diagnosis
from truedigest.model.observation import Observation, Relation, Report, SourceKind, Status
from truedigest.oci.digest import Digest
from truedigest.render import audit_view, verify_report
from truedigest.render.termtable import wrap_words

DATA = Path(__file__).parent / "data"
WIDTHS = (80, 100, 160)
IMAGE = "registry.example.com/team/app"
REF = f"{IMAGE}:sha-1a2b3c4"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BOX = re.compile("[\u2500-\u257f]")
DIGEST_TOKEN = re.compile(r"sha256:[0-9a-f]{12,}")  # a malformed pin (`sha256:1234`) aside


def d(name: str) -> Digest:
    """sha256 of `truedigest screen: <name>`."""
    return Digest.of_bytes(f"truedigest screen: {name}".encode())


TRUTH = d("index")
STALE = d("yesterday")
CONFIG = d("amd64 config")
CHILD = d("amd64 manifest")
DANGLING = d("never pushed")
DIAGNOSES = {
    STALE: Diagnosis(Relation.OTHER_IMAGE),
    CONFIG: Diagnosis(Relation.CONFIG_DIGEST, platform="linux/amd64"),
    CHILD: Diagnosis(Relation.PLATFORM_MANIFEST, platform="linux/amd64"),
    DANGLING: Diagnosis(Relation.NOT_IN_REGISTRY),
}


class Oracle:
    def relate(self, claimed: Digest) -> Diagnosis | None:
        return DIAGNOSES.get(claimed)


def _cp(name: str, digest: Digest | None, status: Status = Status.OK, **extra: str) -> Observation:
    url = f"https://cp-{name}.example.com"
    row = {"cp": name, "url": url, "template_name": "app", "region": "global"}
    detail = extra.pop("detail", None)
    return Observation(
        f"cp:{name}", SourceKind.CP, f"{name} {url}", digest, status, detail=detail, extra=row
    )


def readme_report() -> Report:
    """The README's example: the incidents truedigest exists for, in one run."""
    observations = [
        Observation(f"registry:{REF}", SourceKind.REGISTRY, REF, TRUTH),
        _cp("prod", STALE),
        _cp("staging", CONFIG),
        _cp("dev", TRUTH),
        _cp("eu", None, Status.ERROR, detail="CP eu answered HTTP 401 (token from CP_EU_TOKEN)"),
        Observation("build:metadata", SourceKind.BUILD, "metadata.json", CHILD),
        Observation("file:deploy/app.yaml", SourceKind.FILE, "deploy/app.yaml:12", DANGLING),
    ]
    return evaluate(observations, oracle=Oracle(), context={"image": REF})


def agree_report() -> Report:
    observations = [
        Observation(f"registry:{REF}", SourceKind.REGISTRY, REF, TRUTH),
        _cp("prod", TRUTH),
    ]
    return evaluate(observations, oracle=Oracle(), context={"image": REF})


def _pin(
    source: str, digest: str | None, status: Status, relation: Relation | None, **kw: str
) -> PinEntry:
    cp = source.removeprefix("cp:") if source.startswith("cp:") else None
    return PinEntry(
        source=source,
        cp=cp,
        template_name=kw.get("template", "app"),
        region="global",
        image_digest=digest,
        image_ref=f"{IMAGE}@{digest}" if digest else None,
        status=status,
        relation=relation,
        detail=kw.get("detail"),
    )


def pin_audit() -> PinAudit:
    pins = (
        _pin("cp:prod", str(TRUTH), Status.OK, Relation.IDENTICAL),
        _pin(
            "cp:staging",
            str(STALE),
            Status.OK,
            Relation.OTHER_IMAGE,
            detail=f"latest has moved past this pin: it points at {TRUTH}",
        ),
        _pin(
            "cp:staging",
            str(CONFIG),
            Status.MISMATCH,
            Relation.CONFIG_DIGEST,
            template="worker",
            detail="the pin names the image config digest (`docker image inspect .Id`)",
        ),
        _pin(
            "file:deploy/app.yaml:12",
            str(DANGLING),
            Status.MISMATCH,
            Relation.NOT_IN_REGISTRY,
            detail="the repository has no such manifest: a dangling pin",
        ),
        _pin(
            "cp:eu",
            "sha256:1234",
            Status.MISMATCH,
            None,
            detail="image_digest 'sha256:1234' is not a well-formed digest: a broken pin",
        ),
    )
    disagreements = (Disagreement("app", "global", {"prod": str(TRUTH), "staging": str(STALE)}),)
    return PinAudit(track="latest", pins=pins, disagreements=disagreements)


# --------------------------------------------------------------------------- drawing


@pytest.fixture(autouse=True)
def _colour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A colour terminal unless a test says otherwise (the runner's env may say NO_COLOR)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def draw_verify(report: Report, width: int, *, colour: bool = True) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=True,
        color_system="standard" if colour else None,
        highlight=False,
    )
    assert verify_report.print_verify_table(report, console) is True  # verdict shown
    return buffer.getvalue()


def draw_pins(audit: PinAudit, width: int) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=True, color_system="standard")
    assert audit_view.print_pins(audit, console) is True
    return buffer.getvalue()


def visible(text: str) -> list[str]:
    return ANSI.sub("", text).splitlines()


def digests_of(report: Report) -> set[Digest]:
    return {o.digest for o in report.sources if o.digest is not None}


def assert_readable(lines: list[str], width: int, words: list[str], closing: str) -> None:
    """No line wider than `width`; each of `words` as often as in an unlimited
    drawing; digests only whole (12 or 64 hex); `closing` the last paragraph."""
    for line in lines:
        assert cell_len(line) <= width, (width, line)
        for token in DIGEST_TOKEN.findall(line):
            assert len(token) in (19, 71), (token, line)
    text = "\n".join(lines)
    for word in words:
        assert text.count(word) >= 1, word
    last = "\n".join(lines).rstrip().split("\n\n")[-1]
    assert " ".join(last.split()) == closing


def _word_counts(text: str, words: list[str]) -> dict[str, int]:
    return {w: len(re.findall(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)) for w in words}


# --------------------------------------------------------------------------- verify


@pytest.mark.parametrize("width", WIDTHS)
def test_verify_on_a_terminal_is_whole_at_every_width(width: int) -> None:
    report = readme_report()
    lines = visible(draw_verify(report, width))
    wide = visible(draw_verify(report, 10_000))
    words = [str(r) for r in Relation if r.value in "\n".join(wide)]
    words += [str(x) for x in digests_of(report)] + [x.short for x in digests_of(report)]

    assert_readable(lines, width, words, verify_report.verdict_line(report))
    # Nothing split: every relation word and digest appears as often as with no limit.
    assert _word_counts("\n".join(lines), words) == _word_counts("\n".join(wide), words)
    # The table: short digests; the notes: the full digest of every disagreeing source.
    table = lines[: lines.index("")]
    assert not any(str(x) in line for line in table for x in digests_of(report))
    notes = "\n".join(lines[lines.index("") :])
    for obs in report.sources:
        if obs.relation is not Relation.IDENTICAL and obs.digest is not None:
            assert str(obs.digest) in notes, obs.id
    assert re.search(r"^1\. cp:prod: ", notes, re.M)
    assert re.search(r"^5\. file:deploy/app\.yaml: line 12 \(not-in-registry\)", notes, re.M)


def test_verify_colours_carry_meaning() -> None:
    report = readme_report()
    text = draw_verify(report, 100)
    red, green, yellow = "\x1b[31m", "\x1b[32m", "\x1b[33m"
    rows = {ANSI.sub("", line).split()[0]: line for line in text.splitlines()[3:10]}
    assert green in rows["registry"]
    assert green in rows["cp:dev"]
    assert red in rows["cp:prod"]
    assert yellow in rows["cp:eu"]  # could not check
    assert "31m" in text.splitlines()[-1]  # the verdict (bold red): mismatch


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"NO_COLOR": ""}, {"TERM": "dumb"}])
@pytest.mark.parametrize("width", WIDTHS)
def test_no_color_and_dumb_terminals_get_no_style_and_no_frame(
    monkeypatch: pytest.MonkeyPatch, width: int, env: dict[str, str]
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    report = readme_report()

    text = draw_verify(report, width)

    assert "\x1b" not in text
    assert not BOX.search(text)
    lines = text.splitlines()
    assert lines[1].split() == ["SOURCE", "DIGEST", "STATUS", "RELATION", "WHERE"]
    assert_readable(lines, width, [TRUTH.short, str(STALE)], verify_report.verdict_line(report))


def test_the_agree_report_is_short_and_green() -> None:
    report = agree_report()
    text = draw_verify(report, 80)
    lines = visible(text)
    assert lines[5] == ""  # title, header, rule, two rows: no notes
    assert " ".join(lines[6:]) == verify_report.verdict_line(report)
    assert "\x1b[31m" not in text
    assert "32m" in text.splitlines()[-1]


def test_an_attestation_row_names_the_tag_as_its_registry_row_does() -> None:
    """The attestation rows sit on the report's image: their WHERE is `:tag`, like the
    registry row's, not the whole reference again."""
    attestation = Observation(
        "attestation:provenance",
        SourceKind.ATTESTATION,
        REF,
        d("provenance manifest"),
        Status.OK,
        Relation.IDENTICAL,
        detail="provenance is attached to each of its 2 platform children",
    )
    agreed = agree_report()  # attestation rows join after the digests are judged
    report = dataclasses.replace(agreed, sources=(*agreed.sources, attestation))

    for width in WIDTHS:
        (row,) = [ln for ln in visible(draw_verify(report, width)) if ln.startswith("attest")]
        assert row.split()[-1] == ":sha-1a2b3c4", (width, row)
    wide = [ln for ln in visible(draw_verify(report, 100)) if ln.startswith("attest")]
    assert wide[0].split()[0] == "attestation:provenance"


def test_verify_piped_lines_split_into_the_documented_fields() -> None:
    report = readme_report()
    _cp_where = "https://cp-prod.example.com"

    lines = verify_report.verify_piped(report).splitlines()

    assert len(lines) == len(report.sources)
    for obs, line in zip(report.sources, lines, strict=True):
        fields = line.split("\t")
        assert len(fields) == len(verify_report.PIPED_COLUMNS)
        assert fields[:5] == line.split()[:5]  # awk and cut agree on the first five
        assert fields[0] == obs.id
        assert fields[1] == (str(obs.digest) if obs.digest else "-")
        assert fields[2] == str(obs.status)
        assert fields[3] == (str(obs.relation) if obs.relation else "-")
        assert fields[5] == (obs.detail or "-")
    assert lines[1].split("\t")[4] == _cp_where
    assert "\x1b" not in "".join(lines)


def test_a_space_in_a_piped_field_is_encoded() -> None:
    report = evaluate(
        [
            Observation(f"registry:{REF}", SourceKind.REGISTRY, REF, TRUTH),
            Observation("file:my deploy.yaml", SourceKind.FILE, "my deploy.yaml:3", TRUTH),
        ],
        oracle=Oracle(),
    )
    line = verify_report.verify_piped(report).splitlines()[1]
    assert line.split("\t")[:5] == [
        "file:my%20deploy.yaml",
        str(TRUTH),
        "ok",
        "identical",
        "my%20deploy.yaml:3",
    ]


def test_markdown_has_the_same_structure() -> None:
    report = readme_report()
    lines = verify_report.markdown(report).splitlines()
    assert lines[2] == "| source | digest | status | relation | where |"
    rows = lines[4 : 4 + len(report.sources)]
    assert all(line.startswith("| ") for line in rows)
    assert f"`{STALE.short}`" in rows[1]
    notes = [line for line in lines if re.match(r"^\d+\. ", line)]
    assert len(notes) == 5
    assert f"`{STALE}`" in notes[0]
    assert lines[-1].startswith("**verdict: mismatch (exit 1)")


# --------------------------------------------------------------------------- pins


@pytest.mark.parametrize("width", WIDTHS)
def test_pins_on_a_terminal_is_whole_at_every_width(width: int) -> None:
    from truedigest.core.pin_audit import verdict_line

    audit = pin_audit()
    lines = visible(draw_pins(audit, width))
    wide = visible(draw_pins(audit, 10_000))
    digests = [TRUTH, STALE, CONFIG, DANGLING]
    words = [str(x) for x in digests] + [x.short for x in digests]
    words += ["other-image", "config-digest", "not-in-registry", "identical"]

    assert_readable(lines, width, words, verdict_line(audit))
    assert _word_counts("\n".join(lines), words) == _word_counts("\n".join(wide), words)
    notes = "\n".join(lines[lines.index("") :])
    assert "CPs disagree: template app in global" in " ".join(notes.split())
    for digest in (STALE, CONFIG, DANGLING):
        assert str(digest) in notes


def test_pins_piped_lines_split_into_the_documented_fields() -> None:
    audit = pin_audit()
    lines = audit_view.pins_piped(audit).splitlines()
    assert len(lines) == len(audit.pins) + len(audit.disagreements)
    for line in lines:
        fields = line.split("\t")
        assert len(fields) == len(audit_view.PIN_COLUMNS)
        assert fields[:6] == line.split()[:6]
    assert lines[1].split("\t")[:6] == [
        "cp:staging",
        "app",
        "global",
        str(STALE),
        "ok",
        "other-image",
    ]
    assert lines[-1].split("\t") == [
        "disagreement",
        "app",
        "global",
        "-",
        "mismatch",
        "-",
        f"prod={TRUTH} staging={STALE}",
    ]


# --------------------------------------------------------------------------- layout


def test_a_narrow_terminal_stacks_the_rows() -> None:
    report = readme_report()
    lines = visible(draw_verify(report, 60))  # too narrow for the columns
    assert all(cell_len(line) <= 60 for line in lines)
    stacked = [line for line in lines if line.startswith("source=")]
    assert len(stacked) == len(report.sources)
    assert f"digest={STALE.short}" in " ".join(lines)


def test_word_wrap_splits_only_a_word_longer_than_a_line() -> None:
    assert wrap_words("aa bb cc", 5) == ["aa bb", "cc"]
    assert wrap_words("x " + "y" * 12, 5, first="1. ", indent="   ") == [
        "1. x",
        "   yy",
        "   yy",
        "   yy",
        "   yy",
        "   yy",
        "   yy",
    ]


# --------------------------------------------------------------------------- golden


def golden(width: int) -> Path:
    return DATA / f"screen_verify_{width}.txt"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_readme_example_matches_its_golden_file(width: int) -> None:
    drawn = draw_verify(readme_report(), width, colour=False)
    assert drawn == golden(width).read_text(encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv != ["--update"]:
        print("usage: python -m tests.cli.test_screen --update", file=sys.stderr)
        return 2
    for width in WIDTHS:
        golden(width).write_text(draw_verify(readme_report(), width, colour=False), "utf-8")
        print(f"wrote {golden(width)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
