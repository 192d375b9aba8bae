"""The wheel is platform-specific but not Python-specific: it holds a native library that
ctypes loads (no extension module), so its tag is py3-none-<platform> and its files go to
platlib (auditwheel refuses a shared library under purelib). The platform tag comes from
scripts/package/python.sh (IAM_DB_AUTH_WHEEL_PLATFORM), which checks the library's glibc floor
against it; everything else is in pyproject.toml."""

import os

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        return "py3", "none", os.environ["IAM_DB_AUTH_WHEEL_PLATFORM"]


setup(distclass=BinaryDistribution, cmdclass={"bdist_wheel": PlatformWheel})
