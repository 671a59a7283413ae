// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module for the QEMU guest of crates/watch/qemu/run-effects-test.sh; never loaded on
 * a real host. A write to /proc/skd_cred_root gives the writing task init's credentials,
 * commit_creds(prepare_kernel_cred(&init_task)): the payload a kernel exploit runs (CVE-2022-0185,
 * CVE-2024-1086, ...) without the bug. A container task that writes it becomes root in the
 * initial user namespace with every capability, without a setuid exec or a set*id call: the
 * effect SKD-RUN-042 (how: initial-user-namespace) reports. The same write works on the device
 * /dev/skd_cred_root, for containers whose AppArmor profile denies writes under /proc (podman's
 * containers-default): they get it with --device.
 */
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sched/task.h>

static ssize_t skd_cred_write(struct file *f, const char __user *buf, size_t n, loff_t *off)
{
	struct cred *c = prepare_kernel_cred(&init_task);

	if (!c)
		return -ENOMEM;
	commit_creds(c);
	return n;
}

static const struct proc_ops skd_cred_ops = { .proc_write = skd_cred_write };
static const struct file_operations skd_cred_fops = { .owner = THIS_MODULE, .write = skd_cred_write };
static struct miscdevice skd_cred_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "skd_cred_root",
	.fops = &skd_cred_fops,
	.mode = 0222,
};

static int __init skd_cred_init(void)
{
	/* writable by every user: containers map their users to unprivileged host ids */
	if (!proc_create("skd_cred_root", 0222, NULL, &skd_cred_ops))
		return -ENOMEM;
	if (misc_register(&skd_cred_dev)) {
		remove_proc_entry("skd_cred_root", NULL);
		return -ENODEV;
	}
	return 0;
}

static void __exit skd_cred_exit(void)
{
	misc_deregister(&skd_cred_dev);
	remove_proc_entry("skd_cred_root", NULL);
}

module_init(skd_cred_init);
module_exit(skd_cred_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("stockade watch test: commit_creds(prepare_kernel_cred) for the writer");
