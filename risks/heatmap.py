"""Server-side SVG heatmap of risks on the methodology's likelihood x impact matrix.

The same SVG is inlined in pages and in PDFs (WeasyPrint renders inline SVG); it carries a
title and text so screen readers and copy-paste get the counts too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from risks.models import RiskMethodology

CELL, LABEL_W, LABEL_H = 56, 110, 36


def heatmap_svg(methodology: RiskMethodology, counts: Counter[tuple[int, int]], title: str) -> SafeString:
    """One SVG grid: impact across, likelihood up, each cell coloured by its level with its count."""
    likelihoods = [step["value"] for step in methodology.likelihood_scale]
    impacts = [step["value"] for step in methodology.impact_scale]
    width = LABEL_W + CELL * len(impacts) + 10
    height = CELL * len(likelihoods) + LABEL_H + 28
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LABEL_W}" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    top = 24
    for row, likelihood in enumerate(reversed(likelihoods)):
        y = top + row * CELL
        label = methodology.likelihood_scale[likelihood - 1]["label"]
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + CELL / 2 + 4}" font-size="11" text-anchor="end">'
            f"{likelihood} {escape(label)}</text>"
        )
        for column, impact in enumerate(impacts):
            x = LABEL_W + column * CELL
            level = methodology.level_info(methodology.matrix[f"{likelihood},{impact}"])
            count = counts.get((likelihood, impact), 0)
            parts.append(
                f'<rect x="{x}" y="{y}" width="{CELL - 2}" height="{CELL - 2}" rx="3" fill="{escape(level["colour"])}" '
                f'fill-opacity="{0.95 if count else 0.35}"><title>Likelihood {likelihood}, impact {impact}: '
                f"{escape(level['label'])}, {count} risk{'s' if count != 1 else ''}</title></rect>"
            )
            if count:
                parts.append(
                    f'<text x="{x + CELL / 2 - 1}" y="{y + CELL / 2 + 6}" font-size="18" font-weight="bold" '
                    f'text-anchor="middle" fill="#fff">{count}</text>'
                )
    bottom = top + CELL * len(likelihoods)
    for column, impact in enumerate(impacts):
        label = methodology.impact_scale[impact - 1]["label"]
        parts.append(
            f'<text x="{LABEL_W + column * CELL + CELL / 2 - 1}" y="{bottom + 14}" font-size="10" '
            f'text-anchor="middle">{impact} {escape(label[:12])}</text>'
        )
    parts.append(
        f'<text x="{LABEL_W + CELL * len(impacts) / 2}" y="{bottom + 30}" font-size="11" '
        'text-anchor="middle">Impact →</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every interpolated text above is escaped


def count_cells(pairs: Iterable[tuple[int | None, int | None, int]]) -> Counter[tuple[int, int]]:
    """(likelihood, impact, count) rows from an aggregate query, unscored ones left out."""
    return Counter(
        {
            (likelihood, impact): count
            for likelihood, impact, count in pairs
            if likelihood is not None and impact is not None
        }
    )
