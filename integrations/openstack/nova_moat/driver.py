"""nova.virt.moat: a Nova compute driver that runs instances as VMs of this host's moatd.

Every call goes through moatd's API (client.py) with the driver's own token: moatd admits,
jails and audits each VM as it does for any other client; the driver holds no host privilege of
its own beyond downloading Glance images into one of moatd's image directories.

Mapping (docs/openstack.md):
- an instance is the moat VM named by its UUID, labelled openstack.host with this compute host
  (only such VMs are this host's instances: moatd may run VMs of its own users too);
- its project is a moat trust domain ([moat] project_domains, else default_domain);
- its Glance image (raw or qcow2) is imported once per domain into moatd's image store and each
  instance gets a thin overlay on it; kernel_id/ramdisk_id and os_command_line, when the image
  has them, give the kernel, initramfs and command line, else moat's shipped guest boots;
- each Neutron port is plugged as for libvirt: os-vif's Linux-bridge plugin makes sure the
  network's bridge exists, and moat makes a TAP named as the Linux-bridge agent expects (the
  port's devname) a port of it, with the port's MAC (moat's --net tap=NAME,bridge=BR); the agent
  then sets the port up. Its fixed IPv4 address reaches the guest on the kernel command line
  (moat.ip=, docs/guest.md).
"""

import contextlib
import datetime
import os
import time
import uuid

import eventlet
import os_resource_classes as orc
import os_vif
from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import uuidutils

import nova.conf
from nova import exception
from nova.compute import power_state
from nova.network import model as network_model
from nova.network import os_vif_util
from nova.virt import driver
from nova.virt import hardware
from nova.virt import images

from nova.virt.moat import client as moat_client
from nova.virt.moat import conf as moat_conf

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
moat_conf.register(CONF)

# The label that marks a VM as an instance of one compute host.
HOST_LABEL = "openstack.host"
TRAIT_PREFIX = "CUSTOM_MOAT_DOMAIN_"
# What the driver names after a Glance image: store images and kernel/initramfs files.
GLANCE = "glance-"
# moat's shipped guest's command line (src/boot/shipped-guest.ts DEFAULT_CMDLINE).
DEFAULT_CMDLINE = "console=ttyS0 quiet panic=-1"
# Bound: moatd's largest guest (MEMORY_MIB_MAX, src/vmm/vm-config.ts) and vCPU count
# (VCPUS_MAX); Placement's max_unit keeps larger flavors off moat hosts.
MAX_MEMORY_MB = 4000
MAX_VCPUS = 8
# Bound: moatd's stop grace (STOP_GRACE_MAX_S, src/host/config.ts).
MAX_STOP_GRACE_S = 3600

_POWER = {
    "created": power_state.SHUTDOWN,
    "starting": power_state.RUNNING,
    "running": power_state.RUNNING,
    "paused": power_state.PAUSED,
    "stopping": power_state.RUNNING,
    "stopped": power_state.SHUTDOWN,
    "crashed": power_state.CRASHED,
}


def domain_trait(domain):
    """The Placement trait of a moat trust domain: CUSTOM_MOAT_DOMAIN_ and its name upper-cased,
    `_` written `__` and `-` written `_H` (traits allow A-Z 0-9 _ only; no two names collide)."""
    return TRAIT_PREFIX + domain.upper().replace("_", "__").replace("-", "_H")


def _is_ours(vm):
    """A VM of this compute host: labelled so by its driver at spawn."""
    return vm.get("spec", {}).get("labels", {}).get(HOST_LABEL) == CONF.host


class MoatDriver(driver.ComputeDriver):
    capabilities = dict(
        driver.ComputeDriver.capabilities,
        has_imagecache=True,
        supports_image_type_raw=True,
        supports_image_type_qcow2=True,
    )

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi)
        self.moat = moat_client.MoatClient(CONF.moat.socket, CONF.moat.token_file)

    # ---- the host

    def init_host(self, host):
        try:
            facts = self.moat.host()
        except moat_client.MoatError as e:
            raise exception.NovaException(
                f"moat: cannot use moatd at {CONF.moat.socket} with the token in "
                f"{CONF.moat.token_file} (it needs role operator or admin): {e}")
        if not CONF.moat.image_dir and not facts["image_dirs"]["operators"]:
            raise exception.NovaException(
                "moat: moatd has no image directory for operators; set [moat] image_dir")
        # Downloads a nova-compute that died mid-way left behind.
        d = self._image_dir(facts)
        for f in os.listdir(d):
            if f.endswith(".part") and (f.startswith(".nova-") or f.startswith(GLANCE)):
                os.unlink(os.path.join(d, f))
        LOG.info("moat: moatd at %s has %s CPUs and %s MiB; trust domains served here: %s",
                 CONF.moat.socket, facts["capacity"]["host_cpus"],
                 facts["capacity"]["host_memory_mib"], ", ".join(self._domains()))

    def _domains(self):
        if CONF.moat.domains:
            return list(CONF.moat.domains)
        return sorted({CONF.moat.default_domain, *CONF.moat.project_domains.values()})

    def get_available_nodes(self, refresh=False):
        return [CONF.host]

    def node_is_available(self, nodename):
        return nodename == CONF.host

    def get_host_ip_addr(self):
        return CONF.my_ip

    def _foreign_use(self):
        """vCPUs and MiB held by moatd's running VMs that are not this host's instances."""
        cpus = mem = 0
        for vm in self.moat.list_vms():
            if not _is_ours(vm) and vm["state"] in ("starting", "running", "paused", "stopping"):
                cpus += vm["spec"].get("cpus", 1)
                mem += vm["spec"].get("memory_mib", 128)
        return cpus, mem

    def _disk_gb(self, facts):
        st = os.statvfs(self._image_dir(facts))
        return max(1, st.f_blocks * st.f_frsize // 2**30)

    def get_available_resource(self, nodename):
        facts = self.moat.host()
        cap = facts["capacity"]
        return {
            "vcpus": cap["host_cpus"],
            "memory_mb": cap["host_memory_mib"],
            "local_gb": self._disk_gb(facts),
            "vcpus_used": 0,
            "memory_mb_used": 0,
            "local_gb_used": 0,
            "hypervisor_type": "moat",
            "hypervisor_version": 1000,
            "hypervisor_hostname": nodename,
            "cpu_info": "{}",
            "disk_available_least": None,
            "supported_instances": [],
            "numa_topology": None,
        }

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        """Inventory: moatd's admission limits as they are (GET /v1/host: the host's CPUs and MiB
        times moatd's overcommit, less its memory reserve), with ratio 1.0, so that Placement
        admits exactly what moatd will; reserved: what moatd's other VMs hold. Traits: one per
        trust domain served here."""
        facts = self.moat.host()
        cap = facts["capacity"]
        foreign_cpus, foreign_mem = self._foreign_use()
        disk_gb = self._disk_gb(facts)
        vcpus = max(1, cap["vcpus_limit"])
        mem = max(1, cap["memory_limit_mib"])
        inventory = {
            orc.VCPU: {
                "total": vcpus,
                "reserved": min(foreign_cpus, vcpus),
                "min_unit": 1,
                "max_unit": min(MAX_VCPUS, vcpus),
                "step_size": 1,
                "allocation_ratio": 1.0,
            },
            orc.MEMORY_MB: {
                "total": mem,
                "reserved": min(foreign_mem, mem),
                "min_unit": 1,
                "max_unit": min(MAX_MEMORY_MB, mem),
                "step_size": 1,
                "allocation_ratio": 1.0,
            },
            orc.DISK_GB: {
                "total": disk_gb,
                "reserved": 0,
                "min_unit": 1,
                "max_unit": disk_gb,
                "step_size": 1,
                "allocation_ratio": 1.0,
            },
        }
        provider_tree.update_inventory(nodename, inventory)
        traits = {t for t in provider_tree.data(nodename).traits if not t.startswith(TRAIT_PREFIX)}
        traits.update(domain_trait(d) for d in self._domains())
        provider_tree.update_traits(nodename, traits)

    # ---- instances

    def _vm(self, instance):
        try:
            return self.moat.get_vm(instance.uuid)
        except moat_client.MoatNotFound:
            raise exception.InstanceNotFound(instance_id=instance.uuid)

    def list_instance_uuids(self):
        return [vm["name"] for vm in self.moat.list_vms() if _is_ours(vm)]

    # An instance's VM is named by its UUID.
    list_instances = list_instance_uuids

    def instance_exists(self, instance):
        try:
            self.moat.get_vm(instance.uuid)
            return True
        except moat_client.MoatNotFound:
            return False

    def get_info(self, instance, use_cache=True):
        vm = self._vm(instance)
        return hardware.InstanceInfo(state=_POWER.get(vm["state"], power_state.NOSTATE),
                                     internal_id=vm["id"])

    def _domain_of(self, instance):
        # By the instance's project id: a name is unique only within a Keystone domain, and a
        # request's context may be another project's (an admin's rebuild).
        domain = CONF.moat.project_domains.get(instance.project_id) or CONF.moat.default_domain
        if domain not in self._domains():
            raise exception.InstanceDeployFailure(
                reason=f"moat: project {instance.project_id} runs in trust domain '{domain}', "
                       f"which host {CONF.host} does not serve ({', '.join(self._domains())})")
        return domain

    def _image_dir(self, facts=None):
        if CONF.moat.image_dir:
            return CONF.moat.image_dir
        return (facts or self.moat.host())["image_dirs"]["operators"][0]

    @staticmethod
    def _glance_id(image_id):
        """A kernel_id or ramdisk_id in its one written form. Bound: it must be a UUID (they are
        image properties a tenant sets), so the file named by it stays one plain name."""
        if not uuidutils.is_uuid_like(image_id):
            raise exception.ImageUnacceptable(
                image_id=image_id, reason="moat: kernel_id and ramdisk_id must be Glance image ids")
        return str(uuid.UUID(image_id))

    def _fetch_file(self, context, image_id):
        """A Glance image (a kernel or initramfs; `image_id` from _glance_id) as a file in
        moatd's image directory. The caller holds _file_lock."""
        path = os.path.join(self._image_dir(), GLANCE + image_id)
        if not os.path.exists(path):
            part = f"{path}.{uuid.uuid4().hex}.part"
            images.fetch(context, image_id, part)
            os.rename(part, path)
        return path

    @staticmethod
    def _image_lock(domain, image_id):
        """Held from finding or importing an image to the VM made on it, and by the image cache
        pass around a removal: it never removes what a spawn is about to use."""
        return lockutils.lock(f"moat-image-{domain}-{image_id}")

    @staticmethod
    def _file_lock(image_id):
        return lockutils.lock(f"moat-file-{image_id}")

    def _store_image(self, context, image_meta, domain):
        """The image in moatd's store for this domain (its record), imported from Glance once.
        The caller holds _image_lock."""
        name = GLANCE + image_meta.id
        fmt = image_meta.disk_format
        if fmt not in ("raw", "qcow2"):
            raise exception.ImageUnacceptable(
                image_id=image_meta.id,
                reason=f"moat boots raw or qcow2 images, not {fmt} (qemu-img convert -O qcow2)")
        found = [i for i in self.moat.list_images() if i["name"] == name and i["domain"] == domain]
        if found:
            return found[0]
        part = os.path.join(self._image_dir(), f".nova-{uuid.uuid4().hex}.part")
        try:
            images.fetch(context, image_meta.id, part)
            return self.moat.import_image(part, name, domain, fmt)
        except moat_client.MoatError as e:
            # moatd refused the file (4xx: not an image it accepts): no host will take it.
            if e.status is not None and 400 <= e.status < 500:
                raise exception.ImageUnacceptable(image_id=image_meta.id, reason=str(e))
            raise exception.InstanceDeployFailure(reason=str(e))
        finally:
            if os.path.exists(part):
                os.unlink(part)

    def _image_for(self, context, instance, image_meta, domain):
        """The store image's name, once its disk is known to fit the flavor's root disk."""
        image = self._store_image(context, image_meta, domain)
        root_gb = instance.flavor.root_gb
        # Bound: the overlay is as large as the image says; a flavor's root_gb caps it (0: the
        # image's own size, as Nova allows for images).
        if root_gb and image["virtual_size"] > root_gb * 2**30:
            raise exception.FlavorDiskSmallerThanImage(
                flavor_size=root_gb * 2**30, image_size=image["virtual_size"])
        return image["name"]

    @staticmethod
    def _nics_and_addresses(network_info):
        nics, words = [], []
        for i, vif in enumerate(network_info or []):
            nics.append(
                {"tap": vif["devname"], "bridge": vif["network"]["bridge"], "mac": vif["address"]})
            for subnet in vif["network"]["subnets"]:
                if subnet["version"] != 4 or not subnet["ips"]:
                    continue
                prefix = subnet["cidr"].split("/")[1]
                word = f"moat.ip=eth{i},{subnet['ips'][0]['address']}/{prefix}"
                gateway = subnet.get("gateway") and subnet["gateway"]["address"]
                if gateway:
                    word += "," + gateway
                words.append(word)
                break
        return nics, words

    def spawn(self, context, instance, image_meta, injected_files, admin_password, allocations,
              network_info=None, block_device_info=None, power_on=True, accel_info=None):
        if not image_meta.obj_attr_is_set("id"):
            raise exception.InvalidInput(
                reason="moat boots instances from a Glance image, not from a volume")
        domain = self._domain_of(instance)
        self.plug_vifs(instance, network_info)
        nics, ip_words = self._nics_and_addresses(network_info)
        props = image_meta.properties
        cmdline = props.get("os_command_line") or DEFAULT_CMDLINE
        spec = {
            "name": instance.uuid,
            "domain": domain,
            "accel": CONF.moat.accel,
            "cpus": instance.flavor.vcpus,
            "memory_mib": instance.flavor.memory_mb,
            "nics": nics,
            "cmdline": " ".join([cmdline, *ip_words]),
            "labels": {
                HOST_LABEL: CONF.host,
                "openstack.project": instance.project_id,
                "openstack.flavor": instance.flavor.name[:256],
                "openstack.name": (instance.display_name or "")[:256],
            },
        }
        with contextlib.ExitStack() as held:
            held.enter_context(self._image_lock(domain, image_meta.id))
            spec["disks"] = [{"image": self._image_for(context, instance, image_meta, domain)}]
            if instance.kernel_id:
                kernel = self._glance_id(instance.kernel_id)
                held.enter_context(self._file_lock(kernel))
                spec["kernel"] = self._fetch_file(context, kernel)
                spec["initrd"] = "none"
                if instance.ramdisk_id:
                    ramdisk = self._glance_id(instance.ramdisk_id)
                    if ramdisk != kernel:
                        held.enter_context(self._file_lock(ramdisk))
                    spec["initrd"] = self._fetch_file(context, ramdisk)
            LOG.info("moat: creating VM %s in trust domain %s", instance.uuid, domain,
                     instance=instance)
            self._create(spec)
        if not power_on:
            return
        # The Linux-bridge agent sees the TAP appear when the VM starts, plugs it into the
        # network's bridge and sets the port up; Neutron then tells Nova network-vif-plugged.
        events = [("network-vif-plugged", vif["id"]) for vif in network_info or []
                  if vif.get("active", True) is False]
        timeout = CONF.vif_plugging_timeout
        try:
            with self.virtapi.wait_for_instance_event(
                    instance, events if timeout else [], deadline=timeout,
                    error_callback=self._neutron_failed):
                self._start(instance)
        except eventlet.timeout.Timeout:
            LOG.warning("moat: no network-vif-plugged event within %s s", timeout,
                        instance=instance)
            if CONF.vif_plugging_is_fatal:
                self._delete(instance)
                raise exception.VirtualInterfaceCreateException()
        except Exception:
            self._delete(instance)
            raise

    def _create(self, spec):
        try:
            self.moat.create_vm(spec)
        except moat_client.MoatError as e:
            # 400: the spec itself is wrong (a command line over moatd's bound, say): no host
            # will take it. 403/409: this host's quota or names: another host may.
            if e.status == 400:
                raise exception.InvalidInput(reason=str(e))
            if e.status in (403, 409):
                raise exception.ComputeResourcesUnavailable(reason=str(e))
            raise exception.InstanceDeployFailure(reason=str(e))

    @staticmethod
    def _neutron_failed(event_name, instance):
        LOG.error("moat: Neutron reported a failure of %s", event_name, instance=instance)
        if CONF.vif_plugging_is_fatal:
            raise exception.VirtualInterfaceCreateException()

    def _wait_state(self, instance, states):
        deadline = time.monotonic() + CONF.moat.state_timeout
        while True:
            state = self._vm(instance)["state"]
            if state in states:
                return state
            if time.monotonic() > deadline:
                raise exception.InstanceInvalidState(
                    attr="state", instance_uuid=instance.uuid, state=state,
                    method=f"waiting {CONF.moat.state_timeout} s for {'/'.join(states)}")
            eventlet.sleep(0.2)

    def _start(self, instance):
        try:
            self.moat.lifecycle(instance.uuid, "start")
        except moat_client.MoatError as e:
            # 409: it runs already, or moatd's admission refused it. Placement counts as moatd
            # admits (update_provider_tree), so a refusal means something else took the room:
            # Nova reschedules the build to another host on ComputeResourcesUnavailable.
            if e.status != 409:
                raise exception.InstanceDeployFailure(reason=str(e))
            if self._vm(instance)["state"] not in ("starting", "running"):
                raise exception.ComputeResourcesUnavailable(reason=str(e))
        state = self._wait_state(instance, ("running", "stopped", "crashed"))
        if state != "running":
            vm = self._vm(instance)
            raise exception.InstanceDeployFailure(
                reason=f"moat: VM {instance.uuid} ended as it started: {vm.get('last_exit')}")

    def _delete(self, instance):
        try:
            self.moat.delete_vm(instance.uuid, force=True)
        except moat_client.MoatNotFound:
            pass

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        LOG.info("moat: deleting VM %s", instance.uuid, instance=instance)
        self._delete(instance)

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):
        # destroy removed the VM with its overlay; moat made and removed its TAPs.
        pass

    def plug_vifs(self, instance, network_info):
        """Each port's bridge exists: os-vif's Linux-bridge plugin makes it when absent (no IPv6
        address, up), as for libvirt. moat makes each TAP, on that bridge, when the VM starts
        and removes it when the VM ends."""
        osvif_instance = os_vif_util.nova_to_osvif_instance(instance)
        for vif in network_info or []:
            if vif["type"] != network_model.VIF_TYPE_BRIDGE:
                raise exception.VirtualInterfacePlugException(
                    f"moat plugs Linux-bridge ports only, not port {vif['id']} of type "
                    f"{vif['type']} (Neutron's ML2 mechanism driver linuxbridge)")
            osvif = os_vif_util.nova_to_osvif_vif(vif)
            # No iptables rules of os-vif's on the bridge: moat drops frames whose source MAC is
            # not the port's, and Neutron's agent owns the host's filtering.
            osvif.has_traffic_filtering = True
            try:
                os_vif.plug(osvif, osvif_instance)
            except Exception as e:
                raise exception.VirtualInterfacePlugException(
                    f"moat: bridge {vif['network']['bridge']} for port {vif['id']}: {e}")

    def unplug_vifs(self, instance, network_info):
        # The TAP goes with the VM; the bridge stays for the network's other ports (as os-vif's
        # Linux-bridge plugin leaves it).
        pass

    def power_off(self, instance, timeout=0, retry_interval=0):
        """timeout > 0: the guest shuts down within it (moat stop); 0: powered off at once."""
        if timeout:
            self._op(instance, "stop", min(int(timeout), MAX_STOP_GRACE_S))
        else:
            self._op(instance, "kill")
        self._wait_state(instance, ("stopped", "crashed", "created"))

    def power_on(self, context, instance, network_info, block_device_info=None,
                 accel_info=None):
        self.plug_vifs(instance, network_info)
        self._start(instance)

    def reboot(self, context, instance, network_info, reboot_type, block_device_info=None,
               bad_volumes_callback=None, accel_info=None):
        """SOFT: the guest shuts down (moat stop, with Nova's shutdown_timeout as its grace; moatd
        powers it off after that), then starts; HARD: killed, then started."""
        if reboot_type == "SOFT":
            self._op(instance, "stop", min(CONF.shutdown_timeout, MAX_STOP_GRACE_S))
        else:
            self._op(instance, "kill")
        self._wait_state(instance, ("stopped", "crashed", "created"))
        self.plug_vifs(instance, network_info)
        self._start(instance)

    def pause(self, instance):
        self._op(instance, "pause")

    def unpause(self, instance):
        self._op(instance, "resume")

    # The states each call leaves a VM in; a 409 while the VM is already there is no failure.
    _DONE = {
        "stop": ("stopped", "created", "crashed"),
        "kill": ("stopped", "created", "crashed"),
        "pause": ("paused",),
        "resume": ("running",),
    }

    def _op(self, instance, op, timeout=None):
        try:
            self.moat.lifecycle(instance.uuid, op, timeout)
        except moat_client.MoatNotFound:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        except moat_client.MoatError as e:
            if e.status != 409 or self._vm(instance)["state"] not in self._DONE[op]:
                raise exception.NovaException(str(e))

    def manage_image_cache(self, context, all_instances):
        """Nova's image cache pass: removes what this host downloaded from Glance and no VM uses
        any more, once older than [image_cache] remove_unused_original_minimum_age_seconds: store
        images `glance-<id>` of the domains served here (moatd refuses to delete one a VM still
        has an overlay on) and kernel and initramfs files in the image directory."""
        if not CONF.image_cache.remove_unused_base_images:
            return
        min_age = CONF.image_cache.remove_unused_original_minimum_age_seconds
        now = time.time()
        domains = set(self._domains())
        for image in self.moat.list_images():
            if not image["name"].startswith(GLANCE) or image["domain"] not in domains:
                continue
            made = datetime.datetime.fromisoformat(image["created_at"].replace("Z", "+00:00"))
            if now - made.timestamp() < min_age:
                continue
            try:
                with self._image_lock(image["domain"], image["name"][len(GLANCE):]):
                    self.moat.delete_image(image["id"])
                LOG.info("moat: removed unused image %s (domain %s)", image["name"],
                         image["domain"])
            except moat_client.MoatError as e:
                if e.status != 409:  # 409: a VM has an overlay on it
                    LOG.warning("moat: cannot remove image %s: %s", image["name"], e)
        d = self._image_dir()
        for f in os.listdir(d):
            image_id = f[len(GLANCE):]
            path = os.path.join(d, f)
            if (not f.startswith(GLANCE) or not uuidutils.is_uuid_like(image_id)
                    or now - os.lstat(path).st_mtime < min_age):
                continue
            # Which VMs name it is asked under the lock a spawn holds from download to create.
            with self._file_lock(image_id):
                used = {vm["spec"].get(k) for vm in self.moat.list_vms()
                        for k in ("kernel", "initrd")}
                if path not in used:
                    os.unlink(path)
                    LOG.info("moat: removed unused kernel or initramfs %s", path)

    def get_console_output(self, context, instance):
        try:
            text = self.moat.logs(instance.uuid, CONF.moat.console_bytes)
        except moat_client.MoatNotFound:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return (text or "").encode("utf-8")
