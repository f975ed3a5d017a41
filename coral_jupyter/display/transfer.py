"""Displays of remotes and of what a push, pull or sync did."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coral.core.sizes import human_bytes
from coral_jupyter.display.html import block, esc, mono, paragraph, table


@dataclass(frozen=True)
class RemoteList:
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


def _lines(kind: str, result: Mapping[str, Any]) -> list[str]:
    """The sentences that say what one push or pull did."""
    moved = "pushed" if kind == "push" else "pulled"
    weights = result.get(f"weights_{moved}", 0)
    lines = [
        f"{weights} weight object(s) {moved}, {human_bytes(result.get('bytes_transferred', 0))}; "
        f"{result.get(f'commits_{moved}', 0)} commit(s); {result.get('skipped', 0)} already there"
    ]
    updated = result.get("branches_updated") or {}
    if updated:
        lines.append(
            "branches: " + ", ".join(f"{n} -> {str(h)[:8]}" for n, h in sorted(updated.items()))
        )
    tags = result.get(f"tags_{moved}") or []
    if tags:
        lines.append("tags: " + ", ".join(tags))
    for name, why in (result.get("diverged") or {}).items():
        lines.append(f"not updated: {name}: {why}")
    rejected = result.get("rejected") or {}
    items = rejected.items() if isinstance(rejected, dict) else enumerate(rejected)
    for name, why in items:
        lines.append(f"refused: {why}" if isinstance(name, int) else f"refused: {name}: {why}")
    return lines


@dataclass(frozen=True)
class TransferReport:
    """What ``%coral push``/``pull``/``sync`` did; the result dict is kept as ``.result``."""

    title: str
    parts: Mapping[str, Mapping[str, Any]]  # "push"/"pull" -> the API's result dict

    @property
    def result(self) -> Mapping[str, Any]:
        return next(iter(self.parts.values())) if len(self.parts) == 1 else self.parts

    def __repr__(self) -> str:
        lines = [self.title]
        for kind, result in self.parts.items():
            lines += [f"  {kind}: {line}" for line in _lines(kind, result)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = [
            paragraph(f"<b>{esc(kind)}</b>: {esc(line)}")
            for kind, result in self.parts.items()
            for line in _lines(kind, result)
        ]
        return block(self.title, *body)
