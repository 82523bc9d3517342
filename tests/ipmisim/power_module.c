// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * Power model for OpenIPMI's ipmi_sim, loaded with `loadlib` from lan.conf:
 *
 *   loadlib "/path/ipmisim_power.so" "name=sim0001 log=/dir/events.log model=inproc power=on"
 *
 * Options (space separated key=value):
 *   name=NAME          BMC name written on every event line
 *   log=PATH           event log (appended; one line per event, see README.md)
 *   model=inproc|fork  inproc: this module is the power model (no fork, fast BMC);
 *                      fork: the `chassis_control` script in lan.conf is the model and this
 *                      module only records the requests and tells the script the cause
 *                      through the FP_CAUSE environment variable
 *   power=on|off       initial power state (inproc)
 *   soft_delay_ms=N    inproc: delay between an ACPI soft-off request and power off (1000)
 *
 * In both models the module wraps ipmi_sim's own Chassis Control, Set and Get System Boot
 * Options handlers: it logs each Chassis Control request before running the original, and
 * keeps the five bytes of boot flags (parameter 5) so that a read-back returns what was set
 * (ipmi_sim itself returns only the device selector and drops the valid/persistent/EFI bits).
 * Power cycle stays ipmi_sim's own: power off now, power on from a 1 s timer.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <OpenIPMI/ipmi_err.h>
#include <OpenIPMI/ipmi_msgbits.h>
#include <OpenIPMI/lanserv.h>
#include <OpenIPMI/mcserv.h>

#define FP_POWER_MODULE_VERSION "1"

enum fp_model { FP_MODEL_INPROC, FP_MODEL_FORK };

struct fp_state {
    sys_data_t *sys;
    lmc_data_t *mc;
    enum fp_model model;
    int log_fd;
    char name[64];
    unsigned char power;         /* inproc: 0 off, 1 on */
    unsigned char boot_selector; /* inproc: device selector, bits 5:2 of flags byte 2 */
    unsigned char boot_flags[5]; /* last Set System Boot Options parameter 5 data */
    int boot_flags_set;
    const char *cause;           /* set while a request runs; NULL outside (timers) */
    unsigned int soft_delay_ms;
    ipmi_timer_t *soft_timer;
    int soft_pending;
    cmd_handler_f orig_control;
    cmd_handler_f orig_set_boot;
    cmd_handler_f orig_get_boot;
};

static struct fp_state fp;

static void fp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
fp_log(const char *fmt, ...)
{
    char line[512];
    struct timespec ts;
    int n, m;
    va_list ap;

    if (fp.log_fd < 0)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    n = snprintf(line, sizeof(line), "%lld.%06ld %s ", (long long)ts.tv_sec,
                 ts.tv_nsec / 1000, fp.name);
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m;
    if ((size_t)n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* One write() per line on an O_APPEND descriptor: lines never interleave. */
    if (write(fp.log_fd, line, n) != n) {
        /* Nothing sensible to do in a simulator; the test will see a short log. */
    }
}

static const char *
on_off(unsigned char v)
{
    return v ? "on" : "off";
}

static const char *
boot_device_name(unsigned char sel)
{
    switch (sel) {
    case 0x0: return "none";
    case 0x1: return "pxe";
    case 0x2: return "disk";
    case 0x3: return "disk-safe";
    case 0x4: return "diag";
    case 0x5: return "cdrom";
    case 0x6: return "bios";
    case 0x7: return "remote-floppy";
    case 0x8: return "remote-cdrom";
    case 0x9: return "remote-media";
    case 0xb: return "remote-disk";
    case 0xf: return "floppy";
    default: return "unknown";
    }
}

static const char *
control_op_name(unsigned char op)
{
    switch (op) {
    case 0: return "off";
    case 1: return "on";
    case 2: return "cycle";
    case 3: return "reset";
    case 4: return "diag";
    case 5: return "soft";
    default: return "unknown";
    }
}

static void
set_cause(const char *cause)
{
    fp.cause = cause;
    /* The forking model's script reads this; popen() passes our environment on. */
    if (cause)
        setenv("FP_CAUSE", cause, 1);
    else
        setenv("FP_CAUSE", "timer", 1);
}

static void
set_power(unsigned char to, const char *cause)
{
    unsigned char from = fp.power;

    fp.power = to ? 1 : 0;
    fp_log("power from=%s to=%s cause=%s", on_off(from), on_off(fp.power), cause);
}

static void
soft_timeout(void *cb_data)
{
    (void)cb_data;
    fp.soft_pending = 0;
    if (fp.power)
        set_power(0, "soft-timer");
}

/* ipmi_mc_set_chassis_control_func() callbacks (inproc model). */
static int
fp_chassis_set(lmc_data_t *mc, int op, unsigned char *val, void *cb_data)
{
    (void)mc;
    (void)cb_data;
    switch (op) {
    case CHASSIS_CONTROL_POWER:
        /* Outside a request this is ipmi_sim's power-cycle timer turning power back on. */
        set_power(*val, fp.cause ? fp.cause : "timer");
        return 0;
    case CHASSIS_CONTROL_RESET:
        fp_log("reset power=%s", on_off(fp.power));
        return 0;
    case CHASSIS_CONTROL_BOOT:
        fp.boot_selector = *val & 0xf;
        fp_log("bootdev device=%s persistent=%d efi=%d", boot_device_name(fp.boot_selector),
               fp.boot_flags_set ? !!(fp.boot_flags[0] & 0x40) : 0,
               fp.boot_flags_set ? !!(fp.boot_flags[0] & 0x20) : 0);
        return 0;
    case CHASSIS_CONTROL_BOOT_INFO_ACK:
        fp_log("bootinfo-ack mask=0x%02x data=0x%02x", val[0], val[1]);
        return 0;
    case CHASSIS_CONTROL_GRACEFUL_SHUTDOWN:
        fp_log("soft power=%s delay_ms=%u", on_off(fp.power), fp.soft_delay_ms);
        if (!fp.power)
            return 0;
        if (fp.soft_delay_ms == 0 || !fp.soft_timer) {
            set_power(0, "soft");
        } else if (!fp.soft_pending) {
            struct timeval tv = { fp.soft_delay_ms / 1000, (fp.soft_delay_ms % 1000) * 1000 };
            fp.soft_pending = 1;
            fp.sys->start_timer(fp.soft_timer, &tv);
        }
        return 0;
    case CHASSIS_CONTROL_IDENTIFY:
        fp_log("identify interval=%u force=%u", val[0], val[1]);
        return 0;
    default:
        return EINVAL;
    }
}

static int
fp_chassis_get(lmc_data_t *mc, int op, unsigned char *val, void *cb_data)
{
    (void)mc;
    (void)cb_data;
    switch (op) {
    case CHASSIS_CONTROL_POWER:
        *val = fp.power;
        return 0;
    case CHASSIS_CONTROL_BOOT:
        *val = fp.boot_selector;
        return 0;
    default:
        return EINVAL;
    }
}

/* Wrappers around ipmi_sim's own handlers (both models). */
static void
wrap_chassis_control(lmc_data_t *mc, msg_t *msg, unsigned char *rdata,
                     unsigned int *rdata_len, void *cb_data)
{
    unsigned char op = msg->len >= 1 ? (msg->data[0] & 0xf) : 0xff;

    (void)cb_data;
    if (msg->len >= 1)
        fp_log("request op=%s code=%u", control_op_name(op), op);
    else
        fp_log("request op=short");
    set_cause(msg->len >= 1 ? control_op_name(op) : "short");
    fp.orig_control(mc, msg, rdata, rdata_len, NULL);
    set_cause(NULL);
    if (*rdata_len >= 1 && rdata[0] != 0)
        fp_log("reject op=%s cc=0x%02x", control_op_name(op), rdata[0]);
}

static void
wrap_set_boot_options(lmc_data_t *mc, msg_t *msg, unsigned char *rdata,
                      unsigned int *rdata_len, void *cb_data)
{
    (void)cb_data;
    /* Parameter 5 (boot flags): keep all five bytes for the read-back. */
    if (msg->len >= 6 && (msg->data[0] & 0x7f) == 5) {
        memcpy(fp.boot_flags, msg->data + 1, 5);
        fp.boot_flags_set = 1;
        /* For the forking model's script, which sees only the device name. */
        setenv("FP_BOOT_PERSISTENT", (fp.boot_flags[0] & 0x40) ? "1" : "0", 1);
        setenv("FP_BOOT_EFI", (fp.boot_flags[0] & 0x20) ? "1" : "0", 1);
    }
    set_cause("bootdev");
    fp.orig_set_boot(mc, msg, rdata, rdata_len, NULL);
    set_cause(NULL);
}

static void
wrap_get_boot_options(lmc_data_t *mc, msg_t *msg, unsigned char *rdata,
                      unsigned int *rdata_len, void *cb_data)
{
    (void)cb_data;
    fp.orig_get_boot(mc, msg, rdata, rdata_len, NULL);
    if (fp.boot_flags_set && msg->len >= 1 && (msg->data[0] & 0x7f) == 5 &&
        *rdata_len >= 8 && rdata[0] == 0)
        memcpy(rdata + 3, fp.boot_flags, 5);
}

static int
parse_options(const char *options)
{
    char *copy, *tok, *save = NULL;

    fp.log_fd = -1;
    fp.model = FP_MODEL_INPROC;
    fp.soft_delay_ms = 1000;
    snprintf(fp.name, sizeof(fp.name), "bmc");
    if (!options)
        return 0;
    copy = strdup(options);
    if (!copy)
        return ENOMEM;
    for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        const char *v;
        if (!eq) {
            fprintf(stderr, "ipmisim_power: bad option '%s'\n", tok);
            free(copy);
            return EINVAL;
        }
        *eq = '\0';
        v = eq + 1;
        if (strcmp(tok, "name") == 0) {
            snprintf(fp.name, sizeof(fp.name), "%s", v);
        } else if (strcmp(tok, "log") == 0) {
            fp.log_fd = open(v, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
            if (fp.log_fd < 0) {
                fprintf(stderr, "ipmisim_power: cannot open log %s: %s\n", v, strerror(errno));
                free(copy);
                return errno;
            }
        } else if (strcmp(tok, "model") == 0) {
            if (strcmp(v, "inproc") == 0)
                fp.model = FP_MODEL_INPROC;
            else if (strcmp(v, "fork") == 0)
                fp.model = FP_MODEL_FORK;
            else {
                fprintf(stderr, "ipmisim_power: bad model '%s'\n", v);
                free(copy);
                return EINVAL;
            }
        } else if (strcmp(tok, "power") == 0) {
            fp.power = strcmp(v, "on") == 0 || strcmp(v, "1") == 0;
        } else if (strcmp(tok, "soft_delay_ms") == 0) {
            fp.soft_delay_ms = (unsigned int)strtoul(v, NULL, 10);
        } else {
            fprintf(stderr, "ipmisim_power: unknown option '%s'\n", tok);
            free(copy);
            return EINVAL;
        }
    }
    free(copy);
    return 0;
}

int
ipmi_sim_module_print_version(sys_data_t *sys, char *options)
{
    (void)sys;
    (void)options;
    printf("fleetpower ipmisim power module %s\n", FP_POWER_MODULE_VERSION);
    return 0;
}

int
ipmi_sim_module_init(sys_data_t *sys, const char *options)
{
    cmd_handler_f *chassis;
    int rv;

    memset(&fp, 0, sizeof(fp));
    fp.sys = sys;
    rv = parse_options(options);
    if (rv)
        return rv;

    rv = sys->mc_alloc_unconfigured(sys, 0x20, &fp.mc);
    if (rv) {
        fprintf(stderr, "ipmisim_power: no BMC at 0x20: %s\n", strerror(rv));
        return rv;
    }

    /* ipmi_sim exports its chassis handler table; wrap three entries of it. */
    chassis = dlsym(RTLD_DEFAULT, "chassis_netfn_handlers");
    if (chassis && chassis[IPMI_CHASSIS_CONTROL_CMD] && chassis[IPMI_SET_SYSTEM_BOOT_OPTIONS_CMD] &&
        chassis[IPMI_GET_SYSTEM_BOOT_OPTIONS_CMD]) {
        fp.orig_control = chassis[IPMI_CHASSIS_CONTROL_CMD];
        fp.orig_set_boot = chassis[IPMI_SET_SYSTEM_BOOT_OPTIONS_CMD];
        fp.orig_get_boot = chassis[IPMI_GET_SYSTEM_BOOT_OPTIONS_CMD];
        rv = ipmi_emu_register_cmd_handler(IPMI_CHASSIS_NETFN, IPMI_CHASSIS_CONTROL_CMD,
                                           wrap_chassis_control, NULL);
        if (!rv)
            rv = ipmi_emu_register_cmd_handler(IPMI_CHASSIS_NETFN, IPMI_SET_SYSTEM_BOOT_OPTIONS_CMD,
                                               wrap_set_boot_options, NULL);
        if (!rv)
            rv = ipmi_emu_register_cmd_handler(IPMI_CHASSIS_NETFN, IPMI_GET_SYSTEM_BOOT_OPTIONS_CMD,
                                               wrap_get_boot_options, NULL);
        if (rv) {
            fprintf(stderr, "ipmisim_power: cannot wrap chassis handlers: %s\n", strerror(rv));
            return rv;
        }
    } else {
        fprintf(stderr, "ipmisim_power: chassis handler table not found; requests not logged\n");
    }

    set_cause(NULL);
    if (fp.model == FP_MODEL_INPROC) {
        if (sys->alloc_timer(sys, soft_timeout, NULL, &fp.soft_timer))
            fp.soft_timer = NULL;
        ipmi_mc_set_chassis_control_func(fp.mc, fp_chassis_set, fp_chassis_get, NULL);
        fp_log("start model=inproc power=%s pid=%ld", on_off(fp.power), (long)getpid());
    } else {
        fp_log("start model=fork power=%s pid=%ld", on_off(fp.power), (long)getpid());
    }
    return 0;
}

int
ipmi_sim_module_post_init(sys_data_t *sys)
{
    (void)sys;
    return 0;
}
