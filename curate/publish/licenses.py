"""Most-restrictive license of a mix: one Hub identifier for the YAML, one usage line per source.

A mix may be used only as its strictest source allows. Ranking, strictest first:
non-commercial / research-only > no-derivatives > share-alike (copyleft) > attribution > permissive.
A missing or unrecognised license makes the whole mix `other`: zhtune will not guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Hub license identifiers (https://huggingface.co/docs/hub/repositories-licenses).
HUB_LICENSES = frozenset("""
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0 bigcode-openrail-m
afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0
cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0
cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0
cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl
gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr
mpl-2.0 odc-by odbl openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
deepfloyd-if-license fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 gemma
unknown other
""".split())

PERMISSIVE = frozenset("apache-2.0 mit bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear isc zlib unlicense wtfpl "
                       "cc0-1.0 pddl postgresql ncsa bsl-1.0 afl-3.0 ecl-2.0 ms-pl cdla-permissive-1.0 "
                       "cdla-permissive-2.0 artistic-2.0 etalab-2.0".split())
COPYLEFT = frozenset("gpl gpl-2.0 gpl-3.0 agpl-3.0 lgpl lgpl-2.1 lgpl-3.0 lgpl-lr gfdl mpl-2.0 epl-1.0 epl-2.0 "
                     "eupl-1.1 eupl-1.2 osl-3.0 odbl cdla-sharing-1.0 ofl-1.1 lppl-1.3c".split())
RESEARCH = frozenset("h-research intel-research fair-noncommercial-research-license c-uda".split())
_RESEARCH_TEXT = re.compile(r"research[\s_-]*only|non[\s_-]*commercial|noncommercial|academic[\s_-]*only|仅.*研究|非商业")

LEVELS = ("permissive", "attribution", "share-alike", "no-derivatives", "non-commercial")
USAGE = {
    "permissive": "any use, keep the license notice",
    "attribution": "any use, credit the source",
    "share-alike": "derivatives must carry the same license",
    "no-derivatives": "no modified versions may be shared",
    "non-commercial": "non-commercial / research use only",
    "custom": "custom terms: read the source's license before use",
    "unknown": "license not given: check the source before any use",
}


@dataclass(frozen=True)
class SourceLicense:
    source: str
    given: str | None  # as written in the recipe
    hub_id: str  # Hub identifier this maps to (`other` when not a Hub id)
    level: str  # one of LEVELS, "custom" or "unknown"
    usage: str

    @property
    def rank(self) -> int:
        return LEVELS.index(self.level) if self.level in LEVELS else len(LEVELS)


@dataclass(frozen=True)
class MixLicense:
    hub_id: str  # the YAML `license:` value
    level: str
    reason: str  # one sentence for the card: why this license
    sources: list[SourceLicense]


def normalize(text: str | None) -> str | None:
    if text is None or not str(text).strip():
        return None
    return re.sub(r"[\s_]+", "-", str(text).strip().lower())


def classify(source: str, given: str | None) -> SourceLicense:
    norm = normalize(given)
    if norm is None or norm in ("unknown", "other", "none", "null"):
        return SourceLicense(source, given, "other", "unknown", USAGE["unknown"])
    hub_id = norm if norm in HUB_LICENSES else "other"
    if "-nc" in norm or norm in RESEARCH or _RESEARCH_TEXT.search(norm) or _RESEARCH_TEXT.search(str(given).lower()):
        level = "non-commercial"
    elif "-nd" in norm:
        level = "no-derivatives"
    elif "-sa" in norm or norm in COPYLEFT:
        level = "share-alike"
    elif norm.startswith("cc-by") or norm in ("odc-by", "cc"):
        level = "attribution"
    elif norm in PERMISSIVE:
        level = "permissive"
    else:  # openrail, llama*, gemma, a free-text license: terms of its own
        level = "custom"
    return SourceLicense(source, given, hub_id, level, USAGE[level])


def most_restrictive(inputs: list[dict]) -> MixLicense:
    """`inputs` are manifest inputs ({source, license, ...}); returns the mix's license."""
    srcs = [classify(i["source"], i.get("license")) for i in inputs]
    unknown = [s.source for s in srcs if s.level == "unknown"]
    if unknown:
        return MixLicense("other", "unknown", f"no license is recorded for {', '.join(unknown)}; "
                          "the mix cannot be licensed more openly than its least-known source", srcs)
    custom = [s for s in srcs if s.level == "custom"]
    if custom:
        names = ", ".join(f"{s.source} ({s.given})" for s in custom)
        return MixLicense("other", "custom", f"{names} carry custom terms that every user must accept", srcs)
    top = max(s.rank for s in srcs)
    strictest = sorted({s.hub_id if s.hub_id != "other" else normalize(s.given) for s in srcs if s.rank == top})
    drivers = ", ".join(s.source for s in srcs if s.rank == top)
    level = LEVELS[top]
    hub_ids = [x for x in strictest if x in HUB_LICENSES and x != "other"]
    if len(strictest) == 1 and hub_ids:
        lic = hub_ids[0]
        # Share-alike demands derivatives under that same license: another license cannot cover it.
        sa = [s for s in srcs if s.level == "share-alike" and s.hub_id != lic]
        if sa:
            names = ", ".join(f"{s.source} ({s.hub_id})" for s in sa)
            return MixLicense("other", level, f"{drivers} is `{lic}` ({USAGE[level]}) while {names} requires "
                              "derivatives under its own license; no single license covers the mix", srcs)
        return MixLicense(lic, level, f"the most restrictive source license ({level}: {drivers})", srcs)
    if level in ("permissive", "attribution") and len(hub_ids) == len(strictest):
        # Compatible terms: name the one with the most conditions; every notice is kept anyway.
        lic = "apache-2.0" if "apache-2.0" in hub_ids else sorted(hub_ids)[-1]
        return MixLicense(lic, level, f"sources are {level} ({', '.join(strictest)}); `{lic}` has the most "
                          "conditions among them and each source's notice must be kept", srcs)
    if len(strictest) == 1:  # e.g. free text "research only": no Hub id for it
        return MixLicense("other", level, f"{drivers} is `{strictest[0]}` ({USAGE[level]}), which has no Hub "
                          "identifier", srcs)
    return MixLicense("other", level, f"{drivers} carry different {level} licenses ({', '.join(strictest)}) "
                      "whose terms must all be met; no single license covers the mix", srcs)
