"""What a run trains: the net builders the run lifecycle takes as a parameter.

A run directory holds one kind of net, named in its record:

    PlainNet(config)                       `model.build_dnn(config)`, trained by `fit`
    TransferNet(pretrained, config, reuse=(1, 2, 3), frozen_layers=2, cache_frozen=True)
                                           `transfer.build_transfer_dnn`: the reused
                                           layers restored from `pretrained` in a new
                                           run, frozen ones cached if asked

The lifecycle (`runs.lifecycle`) locks, checks, restores, records and finishes a run the
same way for both; a net only says how it is built, what a new run restores, how it is
fitted and what the record keeps of it. A resumed run rebuilds its net from its record
(`net_from_record`), so only the record's own data and checkpoints are needed.
"""

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any, cast

import tensorflow as tf

from dnn_toolkit import summaries, transfer
from dnn_toolkit.checkpoints import Pretrained, Resumption, RunRecord
from dnn_toolkit.config import DNNConfig
from dnn_toolkit.errors import ConfigMismatchError
from dnn_toolkit.model import DNN, build_dnn, hidden_scope
from dnn_toolkit.training import loop

PLAIN = "plain"
TRANSFER = "transfer"


@dataclasses.dataclass
class Built:
  """A net built in a graph: the `DNN` every hook sees, and the builder's own object.

  Attributes:
    dnn: the `DNN` (`dnn.X` takes the run's inputs).
    model: for a transfer net, its `transfer.TransferDNN`; else None.
  """
  dnn: DNN
  model: Any = None  # A `transfer.TransferDNN` for a transfer net.


class PlainNet:
  """`build_dnn(config)`: a net of the lesson's configuration, trained from scratch.

  Args:
    config: the `DNNConfig`. For a resumed run it may be None (the record's), or the
      record's config itself; `changes` are then checked against the record's.
    changes: {field: value} of the `DNNConfig` the caller gives (the command line's
      flags); a new run takes them over the defaults, a resumed one refuses those that
      differ from its record.
  """

  kind = PLAIN

  def __init__(self, config: DNNConfig | None = None, *,
               changes: Mapping[str, Any] | None = None) -> None:
    self.config = config.validate() if config is not None else None
    self.changes = dict(changes or {})

  def new_config(self) -> DNNConfig:
    """The config of a new run: `config`, else the defaults with `changes`."""
    base = self.config or DNNConfig()
    return dataclasses.replace(base, **self.changes).validate()

  def given_config(self, base: DNNConfig) -> DNNConfig:
    """`config` (else `base`, the run's) with `changes`: what the caller asks for."""
    try:
      return dataclasses.replace(self.config or base, **self.changes).validate()
    except TypeError as error:  # An unknown field.
      raise ValueError(f"Unknown DNNConfig field in `changes`: {error}") from None

  def resumed_config(self, record: RunRecord) -> DNNConfig:
    """The record's config, once `config` and `changes` are found to agree with it.

    Raises:
      ConfigMismatchError: naming each differing field (`fields`) with the run's and
        the given value (`values`); nothing is changed.
    """
    given = self.given_config(record.config)
    fields = given.differences(record.config)
    if fields:
      values = {k: (getattr(record.config, k), getattr(given, k)) for k in fields}
      details = ", ".join(f"{k}: run has {a!r}, given {b!r}"
                          for k, (a, b) in values.items())
      raise ConfigMismatchError(
          f"Cannot resume {record.run_dir!r} with a different configuration "
          f"({details}). Nothing was changed; resume with the run's configuration or "
          "start a new run directory.", fields=fields, values=values,
          run_dir=record.run_dir)
    return record.config

  def build(self, config: DNNConfig, n_inputs: int, saved: RunRecord | None,
            resumption: Resumption | None) -> Built:
    """Builds the net in the default graph."""
    del saved, resumption  # Unused: a plain net is its config.
    return Built(build_dnn(config, n_inputs))

  def restore_new(self, sess: tf.compat.v1.Session, built: Built) -> None:
    """Nothing: a new plain run starts from its initializers."""

  def fit(self, sess: tf.compat.v1.Session, built: Built, train: Any, validation: Any,
          **fit_kwargs: Any) -> Any:
    """`loop.fit` on the net."""
    return loop.fit(sess, built.dnn, train, validation, **fit_kwargs)

  def summary_hook(self, built: Built, run_dir: str, every_n_steps: int,
                   record: RunRecord) -> summaries.SummaryHook:
    """The run's TensorBoard logs."""
    del record  # Unused.
    return summaries.SummaryHook(built.dnn, summaries.logdir_of(run_dir),
                                 every_n_steps=every_n_steps)

  def record_fields(self, built: Built) -> dict[str, Any]:
    """What the record keeps of the net beyond its config: nothing."""
    del built  # Unused.
    return {"transfer": None}


class TransferNet(PlainNet):
  """A net reusing hidden layers of a pretrained one: the lesson's transfer recipe.

  A new run restores the `reuse`d layers from `pretrained` after the initializer; a
  resumed one rebuilds the same net from its record (the latest checkpoint holds every
  variable, so the pretrained run is no longer needed).

  Args:
    pretrained: a `Pretrained` (config, checkpoint), e.g. `transfer.load_pretrained`.
    config: the new net's `DNNConfig` (reused layers keep their sizes).
    reuse: the hidden layer numbers restored from `pretrained`, e.g. (1, 2, 3).
    frozen_layers: the lowest hidden layers training leaves unchanged (all reused).
    cache_frozen: train on the frozen layers' outputs, computed once
      (`transfer.fit_cached`); needs `frozen_layers > 0`.

  Raises:
    ValueError: `cache_frozen` without frozen layers.
  """

  kind = TRANSFER

  def __init__(self, pretrained: Pretrained | tuple[DNNConfig, str] | None = None,
               config: DNNConfig | None = None, *, reuse: int | Sequence[int] = (),
               frozen_layers: int = 0, cache_frozen: bool = False) -> None:
    super().__init__(config)
    if cache_frozen and not frozen_layers:
      raise ValueError("`cache_frozen=True` needs frozen layers to cache, expected "
                       "frozen_layers > 0. Received: frozen_layers=0")
    self.pretrained = Pretrained(*pretrained) if pretrained is not None else None
    self.reuse, self.frozen_layers = reuse, frozen_layers
    self.cache_frozen = cache_frozen

  @classmethod
  def resuming(cls) -> "TransferNet":
    """The transfer net of a run to resume, as its record says."""
    return cls()

  def build(self, config: DNNConfig, n_inputs: int, saved: RunRecord | None,
            resumption: Resumption | None) -> Built:
    """Builds the net; a resumed one from its record's layout and checkpoint."""
    if resumption is not None:
      layout = cast(RunRecord, saved).transfer or {}
      self.reuse, self.frozen_layers = layout["reused_layers"], layout["frozen_layers"]
      self.cache_frozen = layout["cached"]
      # The checkpoint holds the reused layers under their names and shapes.
      self.pretrained = Pretrained(config, resumption.latest)
    model = transfer.build_transfer_dnn(cast(Pretrained, self.pretrained), config,
                                        n_inputs,
                                        reuse=self.reuse,
                                        frozen_layers=self.frozen_layers)
    return Built(model.dnn, model)

  def restore_new(self, sess: tf.compat.v1.Session, built: Built) -> None:
    """Restores the reused layers; the initializer must have run first."""
    built.model.restore(sess)

  def fit(self, sess: tf.compat.v1.Session, built: Built, train: Any, validation: Any,
          **fit_kwargs: Any) -> Any:
    """`transfer.fit_cached` with `cache_frozen`, else `loop.fit`."""
    if self.cache_frozen:
      return transfer.fit_cached(sess, built.model, train, validation, **fit_kwargs)
    return loop.fit(sess, built.dnn, train, validation, **fit_kwargs)

  def summary_hook(self, built: Built, run_dir: str, every_n_steps: int,
                   record: RunRecord) -> summaries.SummaryHook:
    """The run's logs, the restored and frozen layers marked in the graph."""
    layout = record.transfer or self.record_fields(built)["transfer"]
    hook_class = _EpochSummaryHook if self.cache_frozen else summaries.SummaryHook
    return hook_class(built.dnn, summaries.logdir_of(run_dir),
                      every_n_steps=every_n_steps,
                      restored={s: layout["from"] for s in layout["restored"]},
                      frozen=layout["frozen"])

  def record_fields(self, built: Built) -> dict[str, Any]:
    """The record's `transfer` field: what was restored from where, frozen and new.

    Returns:
      {'transfer': {'from': the checkpoint (absolute path), 'restored', 'frozen',
      'new': layer scopes; 'reused_layers', 'frozen_layers', 'cached'}}.
    """
    model = built.model
    layers = [hidden_scope(i + 1) for i in range(len(model.dnn.config.hidden_layers))]
    restored = [hidden_scope(i) for i in model.reused]
    return {"transfer": {
        "from": os.path.abspath(model.pretrained.checkpoint), "restored": restored,
        "frozen": [hidden_scope(i) for i in range(1, model.frozen_layers + 1)],
        "new": [s for s in layers if s not in restored] + [model.dnn.layer_scopes[-1]],
        "reused_layers": list(model.reused), "frozen_layers": model.frozen_layers,
        "cached": bool(self.cache_frozen)}}


class _EpochSummaryHook(summaries.SummaryHook):
  """A SummaryHook for training on cached frozen outputs: no per-step diagnostics.

  The steps feed cached features, not the net's input, so the layer diagnostics
  (which run the net from `X`) cannot be computed; the graph, the transfer text and the
  epoch curves are written as for any run.
  """

  def begin(self, sess: tf.compat.v1.Session, dnn: DNN, state: Any) -> None:
    super().begin(sess, self.dnn, state)  # The whole net, not the cached view.

  def next_step_needed(self, global_step: int) -> int | None:  # type: ignore[override]
    del global_step  # Unused: no step's diagnostics.
    return None

  def after_step(self, sess: tf.compat.v1.Session, state: Any, loss: float,
                 X_batch: Any, y_batch: Any) -> None:
    del sess, state, loss, X_batch, y_batch  # Unused.


def kind_of(record: RunRecord) -> str:
  """The kind of net a run directory holds: `TRANSFER` or `PLAIN`."""
  return TRANSFER if record.transfer and record.transfer.get("reused_layers") else PLAIN


def net_from_record(record: RunRecord) -> PlainNet:
  """The net builder that resumes the run of `record`, as it was built."""
  return TransferNet.resuming() if kind_of(record) == TRANSFER else PlainNet()
