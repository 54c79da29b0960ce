"""Training on a TF 1.x cluster of parameter servers and workers.

Modules:
  tasks     which task a process is (flags or TF_CONFIG) and its network checks;
            imports no TensorFlow
  worker    what a ps task and a worker do (`run_ps`, `train_worker`)
  launcher  a whole cluster as processes of this machine (`LocalCluster`)
"""
