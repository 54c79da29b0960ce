"""Training a built net in a Session: the step loop, its hooks, several steps per call.

    from dnn_toolkit.training import loop
    state = loop.fit(sess, dnn, train, validation, epochs=10, hooks=[...])

Modules:
  loop       `fit` (the Session loop), `TrainState`, `evaluate`, `predict`,
             `run_batched` (the one batched inference loop)
  multistep  K training steps per Session call in a `tf.while_loop`
"""
