//! Strided views of dense data: how a kernel's stride parameters are tested.
//!
//! References work on dense row-major arrays. A [`Layout`] places such an
//! array in a buffer with arbitrary (non-negative) strides; every element of
//! the buffer outside the view holds NaN, so a kernel that reads padding
//! poisons its result, and one that writes padding is caught by
//! [`Layout::stray_writes`].

/// A view of a row-major array of `shape` at the given element strides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
}

impl Layout {
    /// Dense row-major.
    pub fn contiguous(shape: &[usize]) -> Layout {
        let mut strides = vec![1; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * shape[i + 1];
        }
        Layout { shape: shape.to_vec(), strides }
    }

    /// Row-major with `pad` unused elements after every run of the last axis
    /// (a slice of a wider tensor).
    pub fn padded(shape: &[usize], pad: usize) -> Layout {
        let mut padded_shape = shape.to_vec();
        if let Some(last) = padded_shape.last_mut() {
            *last += pad;
        }
        Layout { shape: shape.to_vec(), strides: Layout::contiguous(&padded_shape).strides }
    }

    /// The logical axes stored in the physical order `order` (physical axis
    /// `i` is logical axis `order[i]`), densely: `permuted(&[k, n], &[1, 0])`
    /// is a column-major [k, n] matrix.
    pub fn permuted(shape: &[usize], order: &[usize]) -> Layout {
        let physical: Vec<usize> = order.iter().map(|&a| shape[a]).collect();
        let physical_strides = Layout::contiguous(&physical).strides;
        let mut strides = vec![0; shape.len()];
        for (i, &a) in order.iter().enumerate() {
            strides[a] = physical_strides[i];
        }
        Layout { shape: shape.to_vec(), strides }
    }

    pub fn num_elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// Elements the buffer needs: one past the largest offset of the view.
    pub fn buffer_len(&self) -> usize {
        if self.num_elements() == 0 {
            return 0;
        }
        1 + self.shape.iter().zip(&self.strides).map(|(&n, &s)| (n - 1) * s).sum::<usize>()
    }

    /// The buffer offset of each element, in row-major order of the view.
    pub fn offsets(&self) -> Vec<usize> {
        let mut offsets = vec![0];
        for (&n, &s) in self.shape.iter().zip(&self.strides) {
            offsets = offsets.iter().flat_map(|&o| (0..n).map(move |i| o + i * s)).collect();
        }
        offsets
    }

    /// A buffer holding `dense` (row-major, `num_elements` long) at this
    /// layout's offsets and NaN everywhere else.
    pub fn scatter(&self, dense: &[f64]) -> Vec<f64> {
        assert_eq!(dense.len(), self.num_elements(), "dense data does not match the shape {:?}", self.shape);
        let mut buffer = vec![f64::NAN; self.buffer_len()];
        for (&o, &v) in self.offsets().iter().zip(dense) {
            buffer[o] = v;
        }
        buffer
    }

    /// The view's elements of `buffer`, in row-major order.
    pub fn gather(&self, buffer: &[f64]) -> Vec<f64> {
        self.offsets().iter().map(|&o| buffer[o]).collect()
    }

    /// Offsets outside the view whose element is no longer NaN: writes the
    /// kernel should not have made to a buffer poisoned by
    /// [`crate::harness::Launch::output`].
    pub fn stray_writes(&self, buffer: &[f64]) -> Vec<usize> {
        let mut inside = vec![false; buffer.len()];
        for o in self.offsets() {
            inside[o] = true;
        }
        (0..buffer.len()).filter(|&o| !inside[o] && !buffer[o].is_nan()).collect()
    }

    /// The strides as kernel arguments.
    pub fn stride_args(&self) -> Vec<i64> {
        self.strides.iter().map(|&s| s as i64).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_strides_are_row_major() {
        let l = Layout::contiguous(&[2, 3, 4]);
        assert_eq!(l.strides, vec![12, 4, 1]);
        assert_eq!(l.buffer_len(), 24);
        assert_eq!(l.offsets(), (0..24).collect::<Vec<_>>());
    }

    #[test]
    fn padded_rows_leave_gaps() {
        let l = Layout::padded(&[2, 3], 2);
        assert_eq!(l.strides, vec![5, 1]);
        assert_eq!(l.offsets(), vec![0, 1, 2, 5, 6, 7]);
        let buf = l.scatter(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(buf.len(), 8);
        assert!(buf[3].is_nan() && buf[4].is_nan());
        assert_eq!(l.gather(&buf), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert!(l.stray_writes(&buf).is_empty());
        let mut written = buf.clone();
        written[4] = 0.0;
        assert_eq!(l.stray_writes(&written), vec![4]);
    }

    #[test]
    fn permuted_is_a_transpose() {
        // A column-major 2x3 matrix: element (i, j) at j * 2 + i.
        let l = Layout::permuted(&[2, 3], &[1, 0]);
        assert_eq!(l.strides, vec![1, 2]);
        let buf = l.scatter(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(buf, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        // [b, h, n, d] stored as [b, n, h, d].
        let l = Layout::permuted(&[2, 3, 4, 5], &[0, 2, 1, 3]);
        assert_eq!(l.strides, vec![60, 5, 15, 1]);
    }
}
