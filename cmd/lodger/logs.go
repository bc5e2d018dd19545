package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

type logsOptions struct {
	follow     bool
	timestamps bool
	details    bool
	tail       string
	since      string
	until      string
}

func newLogsCommand() *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs [flags] CONTAINER",
		Short: "Print a container's output",
		Args:  exactArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			lo := container.LogOptions{Follow: o.follow, Timestamps: o.timestamps, Details: o.details, Tail: -1}
			if o.tail != "all" {
				if _, err := fmt.Sscanf(o.tail, "%d", &lo.Tail); err != nil || lo.Tail < 0 {
					return fmt.Errorf("--tail %q: want a number of lines or all", o.tail)
				}
			}
			var err error
			if lo.Since, err = parseTime("--since", o.since); err != nil {
				return err
			}
			if lo.Until, err = parseTime("--until", o.until); err != nil {
				return err
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			return container.Logs(cmd.Context(), store, args[0], lo, os.Stdout, os.Stderr)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing until the container exits")
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "prefix each line with its time")
	f.BoolVar(&o.details, "details", false, "prefix each line with the labels and environment --log-opt chose")
	f.StringVarP(&o.tail, "tail", "n", "all", "print only the last N lines")
	f.StringVar(&o.since, "since", "", "only lines after this time (RFC 3339) or duration ago (10m)")
	f.StringVar(&o.until, "until", "", "only lines before this time (RFC 3339) or duration ago")
	return sessionCommand(cmd, 1)
}

// parseTime takes an RFC 3339 time or a duration before now.
func parseTime(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, fmt.Errorf("%s %q: want an RFC 3339 time or a duration such as 10m", flag, v)
	}
	return t, nil
}
