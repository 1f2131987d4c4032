"""Default-ignorable code points: what renders as nothing, assigned or not.

Unicode's `Default_Ignorable_Code_Point` property (DerivedCoreProperties.txt) lists the code
points a renderer shows as nothing when it has no glyph for them. Most are format characters
or marks, which both views delete by category; the rest are letters (Hangul fillers) and
*unassigned* code points reserved as ignorable (U+2065, U+FFF0-FFF8, all of plane 14), which
a category check misses and which a browser draws as nothing all the same: `her\\u2065oin`.
The standard library has no accessor for the property, so its ranges are spelled out here
(Unicode 15.1; the property is stable: code points are only ever added to it).
"""

from __future__ import annotations

DEFAULT_IGNORABLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip

DEFAULT_IGNORABLE: frozenset[int] = frozenset(
    cp for first, last in DEFAULT_IGNORABLE_RANGES for cp in range(first, last + 1)
)
