"""Displays of remotes and of what a push, pull or sync did."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coral.remote import PullResult, TransferResult
from coral_jupyter.display.html import block, esc, mono, paragraph, table


@dataclass(frozen=True)
class RemoteList:
    """The configured remotes: name, URL and backend."""

    remotes: Mapping[str, Mapping[str, Any]]

    def __repr__(self) -> str:
        if not self.remotes:
            return "No remotes: %coral remote add NAME URL"
        return "\n".join(f"{n}\t{c['url']} ({c['backend']})" for n, c in self.remotes.items())

    def _repr_html_(self) -> str:
        if not self.remotes:
            return paragraph("No remotes: <code>%coral remote add NAME URL</code>")
        rows = [
            [esc(n), mono(str(c["url"])), esc(str(c["backend"]))] for n, c in self.remotes.items()
        ]
        return block("Remotes", table(["name", "url", "backend"], rows))


def _lines(result: TransferResult) -> list[str]:
    """The sentences that say what one push or pull did."""
    lines = [str(result)]
    if result.branches_updated:
        moved = sorted(result.branches_updated.items())
        lines.append("branches: " + ", ".join(f"{n} -> {h[:8]}" for n, h in moved))
    if result.tags_moved:
        lines.append("tags: " + ", ".join(result.tags_moved))
    if isinstance(result, PullResult):
        lines += [f"not updated: {name}: {why}" for name, why in result.diverged.items()]
    lines += [f"refused: {name}: {why}" for name, why in result.rejected.items()]
    return lines


@dataclass(frozen=True)
class TransferReport:
    """What ``%coral push``/``pull``/``sync`` did, rendered from the typed results; a single
    result is also ``.result``."""

    title: str
    parts: Mapping[str, TransferResult]  # "push"/"pull" -> that half's result

    @property
    def result(self) -> TransferResult | Mapping[str, TransferResult]:
        return next(iter(self.parts.values())) if len(self.parts) == 1 else self.parts

    def __repr__(self) -> str:
        lines = [self.title]
        for kind, result in self.parts.items():
            lines += [f"  {kind}: {line}" for line in _lines(result)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = [
            paragraph(f"<b>{esc(kind)}</b>: {esc(line)}")
            for kind, result in self.parts.items()
            for line in _lines(result)
        ]
        return block(self.title, *body)
