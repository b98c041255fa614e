// Sample pictures as PNG data URLs: the input image, a segmentation mask tinted over it, and an
// error map (pixels where prediction and truth differ). Inputs are H*W grey or 3*H*W RGB values.
import { WRONG_COLOR, segClassColor } from './palette';
import { pngDataUrl } from './png';
import type { SampleImage } from './samples_model';

const TINT = 0.6;

/** Values expected in 0..1; an image outside that range (e.g. normalised) is stretched to fit. */
function toBytes(values: readonly number[]): Uint8Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const [offset, scale] = lo >= 0 && hi <= 1 ? [0, 1] : [lo, hi > lo ? 1 / (hi - lo) : 1];
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, (values[i] - offset) * scale)) * 255);
  return out;
}

/** Interleaved RGB bytes of the image (grey repeated into three channels). */
function rgbOf(image: SampleImage | null, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  if (!image) return rgb.fill(255);
  const bytes = toBytes(image.values);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = image.channels === 1 ? bytes[p] : bytes[c * pixels + p];
  }
  return rgb;
}

export function imageDataUrl(image: SampleImage | null, height: number, width: number): string {
  const pixels = height * width;
  if (image && image.channels === 1) return pngDataUrl(width, height, 1, toBytes(image.values));
  return pngDataUrl(width, height, 3, rgbOf(image, pixels));
}

/** The mask's classes tinted over the image; class 0 (background) is left as the image. */
export function maskOverlayDataUrl(image: SampleImage | null, mask: readonly number[], height: number, width: number): string {
  const pixels = height * width;
  const rgb = rgbOf(image, pixels);
  for (let p = 0; p < pixels; p++) {
    const color = segClassColor(mask[p]);
    if (!color) continue;
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.round(rgb[p * 3 + c] * (1 - TINT) + color[c] * TINT);
  }
  return pngDataUrl(width, height, 3, rgb);
}

const WRONG_RGB = [1, 3, 5].map((i) => parseInt(WRONG_COLOR.slice(i, i + 2), 16));

/** A faint copy of the image on white, with every wrongly predicted pixel in the "wrong" colour. */
export function errorMapDataUrl(image: SampleImage | null, truth: readonly number[], predicted: readonly number[], height: number, width: number): string {
  const pixels = height * width;
  const rgb = rgbOf(image, pixels);
  for (let p = 0; p < pixels; p++) {
    const wrong = truth[p] !== predicted[p];
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = wrong ? WRONG_RGB[c] : 255 - Math.round(rgb[p * 3 + c] * 0.25);
  }
  return pngDataUrl(width, height, 3, rgb);
}

/** Fraction of pixels where the predicted mask equals the true one. */
export function pixelAgreement(truth: readonly number[], predicted: readonly number[]): number {
  let same = 0;
  for (let p = 0; p < truth.length; p++) if (truth[p] === predicted[p]) same++;
  return truth.length === 0 ? NaN : same / truth.length;
}
