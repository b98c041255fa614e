// Colours that stay apart under the common colour-vision deficiencies: the Okabe–Ito palette
// (Okabe & Ito, "Color Universal Design", 2008). Lines also differ by dash pattern and epoch
// points by marker shape, so no chart relies on colour alone.

/** Task line colours, readable on white (Okabe–Ito without the yellow). */
export const TASK_COLORS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#000000'];

/** Dash patterns, cycled at a different period than the colours so (colour, dash) pairs repeat late. */
export const DASHES = ['', '7 4', '2 3', '10 3 2 3'];

export const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'cross'] as const;
export type Marker = (typeof MARKERS)[number];

export interface SeriesStyle {
  color: string;
  dash: string;
  marker: Marker;
}

export function seriesStyle(index: number): SeriesStyle {
  return {
    color: TASK_COLORS[index % TASK_COLORS.length],
    dash: DASHES[index % DASHES.length],
    marker: MARKERS[index % MARKERS.length],
  };
}

/** Right / wrong marks: bluish green and vermilion, always with a ✓ or ✗ beside them. */
export const RIGHT_COLOR = '#007A5A';
export const WRONG_COLOR = '#C0392B';

/**
 * Segmentation class tints (RGB). Class 0 is the background (MultiMNIST's convention) and is
 * left untinted; classes 1.. take these bright Okabe–Ito colours, visible over a dark image.
 */
export const SEG_CLASS_COLORS: readonly (readonly [number, number, number])[] = [
  [230, 159, 0], // orange
  [86, 180, 233], // sky blue
  [204, 121, 167], // reddish purple
  [240, 228, 66], // yellow
  [0, 158, 115], // bluish green
  [0, 114, 178], // blue
  [213, 94, 0], // vermilion
];

export function segClassColor(cls: number): readonly [number, number, number] | undefined {
  if (cls <= 0) return undefined;
  return SEG_CLASS_COLORS[(cls - 1) % SEG_CLASS_COLORS.length];
}

export function rgbHex([r, g, b]: readonly [number, number, number]): string {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}
