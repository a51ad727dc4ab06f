"""``import hubfs`` stays light: the heavy integrations load only when used."""
import subprocess
import sys


def test_import_hubfs_loads_no_heavy_library():
    code = ("import sys, hubfs; hubfs.transform; "
            "print(' '.join(m for m in ('torch', 'tensorflow', 'tensorflow_datasets', 'dask', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
