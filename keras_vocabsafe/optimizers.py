"""Row-sparse optimizers for large embedding matrices: a step costs the rows a batch touches, not the matrix.

On TensorFlow the gradient of an embedding lookup is a `tf.IndexedSlices` (the rows the batch used and their
gradients). Keras's `Adam` turns it into a dense matrix and moves every row every step, because its moments decay
everywhere; at a million rows that step is dominated by the untouched rows. `LazyAdam` updates only the rows in the
batch, with the semantics TensorFlow Addons' `LazyAdam` had; `SparseSGD` does the same for SGD, where, without
momentum or weight decay, it is exactly plain SGD.

What a step does with a row-sparse gradient (TensorFlow backend):

- Duplicate ids in the batch are summed first (`tf.unique` + `tf.math.unsorted_segment_sum`, the sum a dense
  gradient would hold), so each touched row is updated once.
- The touched rows, their moments and the variable are read with gathers and written with scatters; rows the
  batch does not touch keep their values and their optimizer slots bit for bit.
- Adam's bias correction uses the optimizer's global step, as Keras's `Adam` and TFA's `LazyAdam` do. A touched
  row's moments decay once per step in which it is touched, not once per step: this is where lazy Adam differs
  from dense Adam (with dense Adam a row keeps moving after its last gradient, on its momentum). When every row is
  touched in every step, `LazyAdam` gives bit-identical results to `keras.optimizers.Adam`.
- `weight_decay` is decoupled as in Keras, applied to the touched rows only ("lazy" decay).
- A variable's `constraint` is applied by Keras to the whole variable after each step, as for any optimizer: rows
  the batch did not touch change only if the constraint changes them (`NonNeg` does not). It costs one pass over
  the matrix per step.
- Clipping (`clipnorm`, `clipvalue`, `global_clipnorm`) reads the summed gradient, as a dense gradient would be
  clipped, and keeps it row-sparse. (Keras's own optimizers clip a row-sparse gradient slice by slice, before
  repeated ids are summed, so a row whose id repeats in a batch can step past the clip there; with
  `global_clipnorm` they make it dense.)
- A regularizer on the embedding adds a dense term to the loss, so the gradient arrives dense; the step is then
  plain dense Adam (every row moves), and a warning says so once per variable. So does `gradient_accumulation_steps`:
  Keras accumulates gradients in dense matrices, and a warning says so when the optimizer is built.
- `use_ema` works as in Keras, which averages every variable every step: the average of the matrix then costs a
  pass over the whole matrix per step. The steps move only the rows touched, but at the end of `fit` Keras
  writes the average into every variable, so rows no batch touched change by float rounding (a few 1e-9).
- Dense gradients (`Dense` kernels, biases) get the parent optimizer's dense step, unchanged.

The optimizers mark the variables they train, and `VocabIdEmbedding` (also inside `VocabEmbedding` and the text
layers) then reads the rows of a marked matrix with a gather on the variable. A scatter puts a TensorFlow variable
in copy-on-read mode, after which every dense read of it (the layer's usual way of reading) would copy the whole
matrix. Build the optimizer (`optimizer.build(model.trainable_variables)`, or `model.compile` + `fit`, which does
it) before tracing a custom training step, so the trace reads the marked way. Keras's own `Embedding` reads its
matrix densely: `LazyAdam` trains it lazily and correctly, but each step then copies the matrix once.

On JAX and PyTorch, gradients are dense arrays: `LazyAdam` and `SparseSGD` behave exactly as Keras's `Adam` and
`SGD` there, and warn once when built.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import keras
import tensorflow as tf

from keras_vocabsafe import _compat

__all__ = ["LazyAdam", "SparseSGD", "reads_rows_sparsely"]

# Set on a Keras variable that a row-sparse optimizer trains; read by the embedding layers through
# `reads_rows_sparsely`.
_SPARSE_MARK = "_vocabsafe_row_sparse_updates"
_EMBEDDING_NAMES = ("embeddings", "trainable_embeddings")


def reads_rows_sparsely(variable: Any) -> bool:
    """Whether `variable` is trained by a row-sparse optimizer, so its rows should be read with a gather on it."""
    return bool(getattr(variable, _SPARSE_MARK, False))


if TYPE_CHECKING:
    # The mixin always sits before a Keras optimizer in the MRO: give the checker that base, so `super()` calls
    # and the optimizer's attributes resolve; at run time it stays a plain mixin.
    from keras.optimizers import Optimizer as _OptimizerBase
else:
    _OptimizerBase = object


class _RowSparse(_OptimizerBase):
    """What `LazyAdam` and `SparseSGD` share: marking, deduplication, lazy weight decay, the dense fallback."""

    def build(self, var_list: list[Any]) -> None:
        if self.built:
            return
        super().build(var_list)
        self._mark_variables(var_list)
        if self.gradient_accumulation_steps and keras.backend.backend() == "tensorflow":
            warnings.warn(
                f"{type(self).__name__}(gradient_accumulation_steps={self.gradient_accumulation_steps}) updates "
                "every row at each update step (dense semantics and cost): Keras accumulates gradients in dense "
                "matrices. Use larger batches instead to keep row-sparse steps.",
                stacklevel=2,
            )

    def _clip_gradients(self, grads: list[Any]) -> list[Any]:
        # Overrides Keras's private hook (`_compat.CLIP_GRADIENTS_HOOK`): Keras clips a row-sparse gradient's slices
        # before repeated ids are summed, and `global_clipnorm` makes it dense. Here they are summed first, so the
        # clip reads the gradient a dense matrix would hold, and the gradient stays row-sparse.
        sparse = keras.backend.backend() == "tensorflow" and any(isinstance(g, tf.IndexedSlices) for g in grads)
        if not sparse or not (self.clipnorm or self.global_clipnorm or self.clipvalue):
            return super()._clip_gradients(grads)
        grads = [_summed(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        if self.clipnorm and self.clipnorm > 0:
            return [None if g is None else tf.clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return _clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            return [None if g is None else tf.clip_by_value(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        if keras.backend.backend() != "tensorflow":
            return super().update_step(gradient, variable, learning_rate)
        sparse = self._sparse_gradient(gradient, variable)
        if sparse is None:
            self._decay(variable, learning_rate, None)
            return super().update_step(gradient, variable, learning_rate)
        rows, gradient = sparse
        self._decay(variable, learning_rate, rows)
        self._sparse_step(rows, gradient, variable, learning_rate)
        return None

    def _sparse_step(self, rows: tf.Tensor, gradient: tf.Tensor, variable: Any, learning_rate: Any) -> None:
        """The optimizer's step on the touched `rows` only (their summed `gradient` rows)."""
        raise NotImplementedError

    def _mark_variables(self, var_list: list[Any]) -> None:
        if keras.backend.backend() != "tensorflow":
            warnings.warn(
                f"{type(self).__name__} updates every row on the {keras.backend.backend()} backend, where "
                "gradients are dense: it behaves as the Keras optimizer it extends. Row-sparse steps need the "
                "TensorFlow backend.",
                stacklevel=3,
            )
            return
        for variable in var_list:
            setattr(variable, _SPARSE_MARK, True)

    def _apply_weight_decay(self, variables: Any) -> None:
        # Overrides Keras's private hook (`_compat.WEIGHT_DECAY_HOOK`): on TensorFlow the decay is applied in
        # `update_step`, where the touched rows are known.
        if keras.backend.backend() != "tensorflow":
            super()._apply_weight_decay(variables)

    def _sparse_gradient(self, gradient: Any, variable: Any) -> tuple[tf.Tensor, tf.Tensor] | None:
        """(unique row ids, summed gradient rows) for a row-sparse gradient; None for a dense one."""
        if not isinstance(gradient, tf.IndexedSlices):
            self._warn_if_regularized(variable)
            return None
        summed = _summed(gradient)
        return summed.indices, tf.cast(summed.values, variable.dtype)

    def _warn_if_regularized(self, variable: Any) -> None:
        keras_variable = _compat.optimizer_trainable_variable(self, variable)
        if keras_variable.regularizer is None or keras_variable.name not in _EMBEDDING_NAMES:
            return
        warned = self.__dict__.setdefault("_warned_dense", set())
        if keras_variable.path in warned:
            return
        warned.add(keras_variable.path)
        warnings.warn(
            f"{type(self).__name__}: `{keras_variable.path}` has a regularizer, which makes its gradient dense, so "
            "every row is updated every step (dense semantics and cost). Drop `embeddings_regularizer` to get "
            "row-sparse steps.",
            stacklevel=2,
        )

    def _decay(self, variable: Any, learning_rate: Any, rows: tf.Tensor | None) -> None:
        """Keras's decoupled weight decay (`variable -= variable * weight_decay * lr`), on `rows` only if given."""
        if self.weight_decay is None or not _compat.uses_weight_decay(self, variable):
            return
        scale = tf.cast(learning_rate, variable.dtype) * tf.cast(self.weight_decay, variable.dtype)
        if rows is None:
            variable.assign_sub(variable * scale)
        else:
            variable.scatter_sub(tf.IndexedSlices(tf.gather(variable, rows) * scale, rows))


def _summed(gradient: tf.IndexedSlices) -> tf.IndexedSlices:
    """`gradient` with each row once: repeated ids summed (`tf.unique` + `tf.math.unsorted_segment_sum`, the sum a
    dense gradient holds), in the order of their first occurrence. Summing again changes nothing."""
    rows, position = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])
    return tf.IndexedSlices(values, rows, gradient.dense_shape)


def _clip_by_global_norm(grads: list[Any], clip_norm: float) -> list[Any]:
    """Keras's `clip_by_global_norm`, reading a row-sparse gradient (each row once) by its rows, and keeping it so."""

    present = [g for g in grads if g is not None]
    dtype = tf.float64 if any(g.dtype == tf.float64 for g in present) else tf.float32

    def squares(gradient: Any) -> tf.Tensor:
        values = gradient.values if isinstance(gradient, tf.IndexedSlices) else gradient
        return tf.reduce_sum(tf.square(tf.cast(values, dtype)))

    norm = tf.sqrt(tf.add_n([squares(g) for g in present]))
    # As Keras: a no-op for any finite norm at or below the clip, and NaN everywhere when the norm is not finite.
    scale = clip_norm * tf.minimum(1.0 / norm, 1.0 / clip_norm) + (norm - norm)

    def scaled(gradient: Any) -> Any:
        if gradient is None:
            return None
        if isinstance(gradient, tf.IndexedSlices):
            values = gradient.values * tf.cast(scale, gradient.values.dtype)
            return tf.IndexedSlices(values, gradient.indices, gradient.dense_shape)
        return gradient * tf.cast(scale, gradient.dtype)

    return [scaled(g) for g in grads]


@keras.saving.register_keras_serializable(package="keras_vocabsafe")
class LazyAdam(_RowSparse, keras.optimizers.Adam):
    """Adam that, on TensorFlow, updates only the embedding rows a batch touches.

    For a row-sparse gradient (an embedding lookup's, on TensorFlow), the
    moments and the values of the touched rows are updated as Adam would
    update them, with the bias correction of the global step; every other row
    and its moments stay exactly as they were. This is TensorFlow Addons'
    `LazyAdam`: a row's moments decay only in the steps that touch it, so
    rare tokens are not dragged along by stale momentum, and a step costs the
    batch rather than the matrix. Dense gradients get Keras's `Adam` step
    unchanged. See the module docstring for weight decay, constraints,
    regularizers and other backends.

    Args:
        As for `keras.optimizers.Adam`. `weight_decay` applies to the touched
        rows only.

    Example:

    >>> ids = keras.Input((3,), dtype="int64")
    >>> model = keras.Model(ids, keras.layers.Dense(1)(keras.layers.Embedding(10, 4)(ids)))
    >>> model.compile(optimizer=keras_vocabsafe.LazyAdam(1e-3), loss="mse")
    >>> history = model.fit(np.array([[1, 2, 3]]), np.array([[[1.0]] * 3]), verbose=0)
    """

    def _sparse_step(self, rows: tf.Tensor, gradient: tf.Tensor, variable: Any, learning_rate: Any) -> None:
        # The same expressions as keras.optimizers.Adam, row by row, so that touching every row gives Adam's bits.
        lr = tf.cast(learning_rate, variable.dtype)
        local_step = tf.cast(self.iterations + 1, variable.dtype)
        beta_1_power = tf.pow(tf.cast(self.beta_1, variable.dtype), local_step)
        beta_2_power = tf.pow(tf.cast(self.beta_2, variable.dtype), local_step)
        alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m_variable, v_variable, v_hat_variable = _compat.adam_slot_variables(self, variable)
        m = tf.gather(m_variable.value, rows)
        m = m + (gradient - m) * (1 - self.beta_1)
        self.assign(m_variable, tf.IndexedSlices(m, rows))
        v = tf.gather(v_variable.value, rows)
        v = v + (tf.square(gradient) - v) * (1 - self.beta_2)
        self.assign(v_variable, tf.IndexedSlices(v, rows))
        if self.amsgrad:
            v = tf.maximum(tf.gather(v_hat_variable.value, rows), v)
            self.assign(v_hat_variable, tf.IndexedSlices(v, rows))
        self.assign_sub(variable, tf.IndexedSlices((m * alpha) / (tf.sqrt(v) + self.epsilon), rows))
        return None


@keras.saving.register_keras_serializable(package="keras_vocabsafe")
class SparseSGD(_RowSparse, keras.optimizers.SGD):
    """SGD that, on TensorFlow, updates only the embedding rows a batch touches.

    Without momentum and weight decay this is exactly `keras.optimizers.SGD`
    (rows without a gradient do not move under SGD either), at the cost of
    the batch. With `momentum`, a row's velocity decays only in the steps
    that touch it (lazy momentum); with `weight_decay`, only touched rows
    decay. Dense gradients get Keras's `SGD` step unchanged.

    Args:
        As for `keras.optimizers.SGD`.
    """

    def _sparse_step(self, rows: tf.Tensor, gradient: tf.Tensor, variable: Any, learning_rate: Any) -> None:
        lr = tf.cast(learning_rate, variable.dtype)
        if self.momentum == 0:
            self.assign_sub(variable, tf.IndexedSlices(gradient * lr, rows))
            return None
        momentum = tf.cast(self.momentum, variable.dtype)
        m_variable = self.momentums[_compat.optimizer_variable_index(self, variable)]
        m = tf.gather(m_variable.value, rows) * momentum - gradient * lr
        self.assign(m_variable, tf.IndexedSlices(m, rows))
        step = m * momentum - gradient * lr if self.nesterov else m
        self.assign_add(variable, tf.IndexedSlices(step, rows))
        return None
