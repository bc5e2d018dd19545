package main

import (
	"fmt"
	"testing"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/logfile"
)

// The CLI calls an option the library refuses by its flag.
func TestErrorTextNamesTheFlag(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("create: %w", &container.OptionError{Option: container.OptOOMScoreAdj, Subject: "1001", Reason: "out of range"}), "create: --oom-score-adj 1001: out of range"},
		{&container.OptionError{Option: container.OptCapAdd, Reason: "unknown capability"}, "--cap-add: unknown capability"},
		{&exitCodeError{Code: 125, Err: &container.OptionError{Option: container.OptExpose, Subject: `"http"`, Reason: "want PORT"}}, `--expose "http": want PORT`},
		{fmt.Errorf("create: %w", &logfile.ConfigError{Setting: logfile.SettingOpt, Subject: `"colour=blue"`, Reason: "lodger knows max-size"}), `create: --log-opt "colour=blue": invalid log option: lodger knows max-size`},
		{fmt.Errorf("plain"), "plain"},
	} {
		if got := errorText(tt.err); got != tt.want {
			t.Errorf("errorText(%v) = %q; want %q", tt.err, got, tt.want)
		}
	}
}

func TestEveryOptionHasAFlag(t *testing.T) {
	for o := container.OptSecurityOpt; o <= container.OptPull; o++ {
		if optionFlags[o] == "" {
			t.Errorf("option %v has no flag in optionFlags", o)
		}
	}
}
