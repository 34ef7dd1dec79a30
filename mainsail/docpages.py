"""`mainsail doc TOPIC`: the documentation pages, shipped inside the package, so every hint
names a page an installed user has (`mainsail doc inventory`), never a URL or a repo path."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def docs_folder() -> Path:
    """The pages: inside the package (a wheel), or the checkout's docs/ beside it."""
    shipped = HERE / "docs"
    return shipped if shipped.is_dir() else HERE.parent / "docs"


def topics() -> list[str]:
    folder = docs_folder()
    return sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []


def page(topic: str) -> str | None:
    """The page for ``topic`` (``commands`` or ``commands.md``), or None."""
    name = topic[:-3] if topic.endswith(".md") else topic
    path = docs_folder() / (name + ".md")
    return path.read_text(encoding="utf-8") if name in topics() else None
