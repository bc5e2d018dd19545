package main

import (
	"errors"
	"strings"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/logfile"
)

// optionFlags are the flags of the options the library refuses by name
// (container.OptionError), which it words in neither front end's terms.
var optionFlags = map[container.Option]string{
	container.OptSecurityOpt: "--security-opt",
	container.OptCapAdd:      "--cap-add",
	container.OptCgroupns:    "--cgroupns",
	container.OptOOMScoreAdj: "--oom-score-adj",
	container.OptUlimit:      "--ulimit",
	container.OptStopSignal:  "--stop-signal",
	container.OptAddHost:     "--add-host",
	container.OptDNS:         "--dns",
	container.OptAnnotation:  "--annotation",
	container.OptPID:         "--pid",
	container.OptIPC:         "--ipc",
	container.OptUTS:         "--uts",
	container.OptGroupAdd:    "--group-add",
	container.OptSysctl:      "--sysctl",
	container.OptExpose:      "--expose",
	container.OptName:        "--name",
	container.OptUserns:      "--userns",
	container.OptPull:        "--pull",
}

// logFlags are the flags of a log configuration's settings.
var logFlags = map[logfile.Setting]string{logfile.SettingDriver: "--log-driver", logfile.SettingOpt: "--log-opt"}

// errorText is err's message with a refused option called by its flag.
func errorText(err error) string {
	msg := err.Error()
	var oe *container.OptionError
	if errors.As(err, &oe) {
		if flag, ok := optionFlags[oe.Option]; ok {
			msg = strings.Replace(msg, oe.Error(), oe.Phrase(flag), 1)
		}
	}
	var ce *logfile.ConfigError
	if errors.As(err, &ce) {
		msg = strings.Replace(msg, ce.Error(), ce.Phrase(logFlags[ce.Setting]), 1)
	}
	return msg
}
