"""Data as arrays: the split types, MNIST offline and the user's own files.

    from dnn_toolkit.data import mnist, files
    datasets = mnist.load_mnist()                  # train / validation / test
    datasets = files.load_arrays("iris.csv", label_column="species")

Modules:
  arrays       `DataSet`, `Datasets`, their identity (digests), subsets, the seeded
               epoch order and the one batching rule; pure NumPy
  mnist        MNIST and Fashion-MNIST without a network: sources, digests, cache
  mnist_files  readers of the files MNIST comes in (IDX, .npz, pickle)
  files        a user's .npz and CSV files, and `load_arrays`, which reads any of them
"""
