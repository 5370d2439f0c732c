"""Checks the user manual's screenshots against a fresh browser e2e run.

Fails when a page of docs/manual references an image the run did not
produce (a screenshot that could go stale or is missing), when a referenced
image is not committed, or when the committed screenshots are not exactly
the ones the run produces (an orphan nobody regenerates).
"""
import pathlib
import re
import sys

manual, produced = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
made = {p.name for p in produced.glob("*.png")}
committed = {p.name for p in (manual / "images").glob("*.png")}
refs = {}
for md in sorted(manual.glob("*.md")):
    for m in re.finditer(r"!\[[^\]]*\]\(images/([^)\s]+)\)", md.read_text(encoding="utf-8")):
        refs.setdefault(m.group(1), []).append(md.name)
errors = []
for name, pages in sorted(refs.items()):
    if name not in made:
        errors.append(f"{name} (used by {', '.join(pages)}) is not produced by the browser e2e run")
    if name not in committed:
        errors.append(f"{name} (used by {', '.join(pages)}) is not committed under docs/manual/images")
for name in sorted(committed - made):
    errors.append(f"docs/manual/images/{name} is committed but no longer produced by the e2e run")
for name in sorted(made - committed):
    errors.append(f"{name} is produced by the e2e run but not committed (run: bash .ci/browser.sh --update-manual)")
if not refs:
    errors.append("docs/manual references no screenshots")
for e in errors:
    print("manual:", e)
print(f"manual: {len(refs)} screenshots referenced, {len(made)} produced, {len(committed)} committed")
sys.exit(1 if errors else 0)
