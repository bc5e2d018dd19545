package main

import (
	"errors"
	"strings"

	"github.com/lodger-containers/lodger/container"
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

// errorText is err's message with a refused option called by its flag.
func errorText(err error) string {
	msg := err.Error()
	var oe *container.OptionError
	if errors.As(err, &oe) {
		if flag, ok := optionFlags[oe.Option]; ok {
			msg = strings.Replace(msg, oe.Error(), oe.Phrase(flag), 1)
		}
	}
	return msg
}
