// Small dense linear algebra for the weighting strategies. The big object is G (T rows of P
// numbers, read only); everything else is T×T with T the number of tasks (a handful), so plain
// float64 loops over `number[][]` are the right tool. Matrices are arrays of rows.

import type { GradientRow } from './types';

export type Matrix = number[][];

export function zeros(rows: number, cols: number): Matrix {
  return Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
}

export function identity(n: number): Matrix {
  const I = zeros(n, n);
  for (let i = 0; i < n; i++) I[i][i] = 1;
  return I;
}

/** G Gᵀ in float64: T×T dot products of the rows, over column blocks so the rows stay in cache. */
export function gramMatrix(rows: readonly GradientRow[]): Matrix {
  const T = rows.length;
  const P = rows[0].length;
  const M = zeros(T, T);
  const block = 4096;
  for (let start = 0; start < P; start += block) {
    const end = Math.min(P, start + block);
    for (let i = 0; i < T; i++) {
      const a = rows[i];
      for (let j = i; j < T; j++) {
        const b = rows[j];
        let s = 0;
        for (let k = start; k < end; k++) s += a[k] * b[k];
        M[i][j] += s;
      }
    }
  }
  for (let i = 0; i < T; i++) for (let j = 0; j < i; j++) M[i][j] = M[j][i];
  return M;
}

/** Σ_t w_t · rows[t], accumulated in float64 per entry, returned as float32 (length P). */
export function weightedRowSum(rows: readonly GradientRow[], w: ArrayLike<number>): Float32Array {
  const T = rows.length;
  const P = rows[0].length;
  const out = new Float32Array(P);
  const active: number[] = [];
  for (let t = 0; t < T; t++) if (w[t] !== 0) active.push(t);
  for (let k = 0; k < P; k++) {
    let s = 0;
    for (const t of active) s += w[t] * rows[t][k];
    out[k] = s;
  }
  return out;
}

export function isFiniteMatrix(M: Matrix): boolean {
  return M.every((row) => row.every((v) => Number.isFinite(v)));
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function matVec(M: Matrix, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(M.length);
  for (let i = 0; i < M.length; i++) out[i] = dot(M[i], x);
  return out;
}

/** xᵀ M x. */
export function quadraticForm(M: Matrix, x: ArrayLike<number>): number {
  return dot(x, matVec(M, x));
}

export function matMul(A: Matrix, B: Matrix): Matrix {
  const n = A.length;
  const m = B[0].length;
  const C = zeros(n, m);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < B.length; k++) {
      const a = A[i][k];
      if (a === 0) continue;
      for (let j = 0; j < m; j++) C[i][j] += a * B[k][j];
    }
  }
  return C;
}

export function transpose(A: Matrix): Matrix {
  return A[0].map((_, j) => A.map((row) => row[j]));
}

/** Frobenius norm. */
export function frobeniusNorm(M: Matrix): number {
  let s = 0;
  for (const row of M) for (const v of row) s += v * v;
  return Math.sqrt(s);
}

/**
 * Solves A x = b by Gaussian elimination with partial pivoting. Returns null when A is singular
 * to working precision (a pivot below 1e-12 of the largest entry of A).
 */
export function solveLinear(A: Matrix, b: ArrayLike<number>): Float64Array | null {
  const n = A.length;
  const a = A.map((row) => Float64Array.from(row));
  const x = Float64Array.from(b as ArrayLike<number>);
  let scale = 0;
  for (const row of a) for (const v of row) scale = Math.max(scale, Math.abs(v));
  if (scale === 0) return null;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    if (Math.abs(a[pivot][col]) <= 1e-12 * scale) return null;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    [x[col], x[pivot]] = [x[pivot], x[col]];
    for (let r = col + 1; r < n; r++) {
      const f = a[r][col] / a[col][col];
      if (f === 0) continue;
      for (let c = col; c < n; c++) a[r][c] -= f * a[col][c];
      x[r] -= f * x[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let c = r + 1; c < n; c++) s -= a[r][c] * x[c];
    x[r] = s / a[r][r];
  }
  return x;
}

/**
 * The minimum-norm least-squares solution of A x = b (x = A⁺ b), through the eigen-decomposition
 * of Aᵀ A; eigenvalues below 1e-13 of the largest count as zero. For the rare singular systems.
 */
export function solveLeastSquares(A: Matrix, b: ArrayLike<number>): Float64Array {
  const n = A[0].length;
  const At = transpose(A);
  const { values, vectors } = symmetricEigen(matMul(At, A));
  const Atb = matVec(At, b);
  const x = new Float64Array(n);
  const tol = 1e-13 * Math.max(values[0], 0);
  for (let k = 0; k < n; k++) {
    if (values[k] <= tol) continue;
    let proj = 0;
    for (let i = 0; i < n; i++) proj += vectors[i][k] * Atb[i];
    proj /= values[k];
    for (let i = 0; i < n; i++) x[i] += proj * vectors[i][k];
  }
  return x;
}

/**
 * Eigen-decomposition of a symmetric matrix by the cyclic Jacobi method: M = V diag(values) Vᵀ.
 * `values` are sorted in descending order; `vectors[i][k]` is component i of eigenvector k
 * (eigenvectors are the columns, orthonormal). Jacobi is slow for big n but exact to a few ulps
 * and simple, which is what T×T Gram matrices need.
 */
export function symmetricEigen(M: Matrix, maxSweeps = 100): { values: Float64Array; vectors: Matrix } {
  const n = M.length;
  const a = M.map((row) => [...row]);
  const v = identity(n);
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let total = 0;
    for (let p = 0; p < n; p++) {
      for (let q = 0; q < n; q++) {
        total += a[p][q] * a[p][q];
        if (p !== q) off += a[p][q] * a[p][q];
      }
    }
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p][q];
        if (apq === 0) continue;
        // Rotation J (J_pp = J_qq = c, J_pq = s, J_qp = -s) chosen so that (Jᵀ a J)_pq = 0:
        // t = tan θ is the smaller root of t² + 2τt - 1 = 0 with τ = (a_qq - a_pp) / (2 a_pq).
        const tau = (a[q][q] - a[p][p]) / (2 * apq);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j][j] - a[i][i]);
  const values = Float64Array.from(order, (i) => a[i][i]);
  const vectors = v.map((row) => order.map((i) => row[i]));
  return { values, vectors };
}

/** Euclidean projection onto the probability simplex {x >= 0, Σx = 1} (sort-based, O(n log n)). */
export function projectOntoSimplex(y: ArrayLike<number>): Float64Array {
  const n = y.length;
  const sorted = Array.from(y).sort((p, q) => q - p);
  let cumulative = 0;
  let theta = 0;
  for (let j = 0; j < n; j++) {
    cumulative += sorted[j];
    const candidate = (cumulative - 1) / (j + 1);
    if (sorted[j] - candidate > 0) theta = candidate;
  }
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.max(y[i] - theta, 0);
  return x;
}
