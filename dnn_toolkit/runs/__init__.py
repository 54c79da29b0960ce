"""Training runs kept in a run directory: one lifecycle for every kind of run.

    from dnn_toolkit.runs import lifecycle, loading
    result = lifecycle.train(DNNConfig(), train, validation, run_dir="checkpoints/a")
    with loading.load_run("checkpoints/a") as run:
      classes = run.predict(images)

Modules:
  lifecycle   `train` and `Run`: lock, read the record once, check, build, restore,
              fit, finish; a local Session (`LocalSession`) or a cluster task's
  nets        what a run trains: `PlainNet` (`build_dnn`), `TransferNet` (reused layers)
  run_data    a run's data as the run saw it: reloaded, split, scaled, relabelled
  loading     a run's net back in a Session for inference (`load_run`)
  evaluation  a run's evaluation report: metrics, per-class table, confusion matrix
"""
