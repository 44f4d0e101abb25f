"""moat as a Nova hypervisor: installed as nova.virt.moat, loaded by compute_driver = moat.MoatDriver."""

from nova.virt.moat.driver import MoatDriver  # noqa: F401
