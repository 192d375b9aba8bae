"""The wheel is platform-specific but not Python-specific: it holds a native library that
ctypes loads (no extension module), so its tag is py3-none-<platform>. The platform tag comes
from scripts/package/python.sh (IAM_DB_AUTH_WHEEL_PLATFORM), which checks the library's glibc
floor against it; everything else is in pyproject.toml."""

import os

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        return "py3", "none", os.environ["IAM_DB_AUTH_WHEEL_PLATFORM"]


setup(cmdclass={"bdist_wheel": PlatformWheel})
