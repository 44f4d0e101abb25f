"""The driver's options: nova.conf's [moat] section (docs/openstack.md has an example)."""

from oslo_config import cfg

moat_group = cfg.OptGroup("moat", title="moat hypervisor driver options")

moat_opts = [
    cfg.StrOpt("socket", default="/var/lib/moat/moat.sock",
               help="The Unix socket of this host's moatd."),
    cfg.StrOpt("token_file", default="/etc/nova/moat.token",
               help="A file holding the driver's own moatd token (role operator: it creates VMs "
                    "in every project's trust domain). moatd's audit log names its calls by it."),
    cfg.StrOpt("default_domain", default="default",
               help="The moat trust domain of a project project_domains does not name."),
    cfg.DictOpt("project_domains", default={}, mutable=True,
                help="project_id:domain pairs: a project (by its id: a name is unique only "
                     "within a Keystone domain) to the moat trust domain its instances run in, "
                     "e.g. '4f0e...:vault,9a1b...:acme'. Re-read on SIGHUP."),
    cfg.ListOpt("domains", default=None, mutable=True,
                help="The trust domains this host serves, each reported to Placement as the "
                     "trait CUSTOM_MOAT_DOMAIN_<NAME>; an instance of another domain is refused "
                     "here. Default: default_domain and every domain of project_domains. Re-read "
                    "on SIGHUP (the trait follows at the next resource update)."),
    cfg.StrOpt("accel", default="auto", choices=["auto", "soft", "kvm"],
               help="moat's accelerator for instances (moat create --accel)."),
    cfg.StrOpt("image_dir", default=None,
               help="Where Glance images are downloaded before moatd imports them: one of "
                    "moatd's image directories. Default: the first moatd reports for operators."),
    cfg.IntOpt("console_bytes", default=100 * 1024, min=1, max=1024 * 1024,
               help="How much of the console scrollback `openstack console log show` gets."),
    cfg.IntOpt("state_timeout", default=120, min=1,
               help="Seconds a start, stop or reboot may take to reach its state."),
]


def register(conf):
    conf.register_group(moat_group)
    conf.register_opts(moat_opts, group=moat_group)
