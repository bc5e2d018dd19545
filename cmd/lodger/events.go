package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	tmplformat "github.com/lodger-containers/lodger/cmd/lodger/internal/format"
	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/events"
)

type eventsOptions struct {
	since, until string
	filters      []string
	format       string
}

func newEventsCommand() *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events [flags]",
		Short: "Print what happens to containers and images",
		Long: `Print events as they happen: containers' create, start, die (with its exit
code), kill, stop, destroy and health_status, images' pull, tag, untag and
delete. Every lodger command and monitor writes them to a journal in the
run directory; events follows it until interrupted, or until --until.
With --since, events from then on come first.`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			ro := events.ReadOptions{}
			var err error
			if ro.Since, err = parseEventTime("--since", o.since); err != nil {
				return err
			}
			if ro.Until, err = parseEventTime("--until", o.until); err != nil {
				return err
			}
			if ro.Filter, err = events.ParseFilter(o.filters); err != nil {
				return err
			}
			print, err := eventPrinter(cmd.OutOrStdout(), o.format)
			if err != nil {
				return err
			}
			return events.Read(cmd.Context(), container.JournalPath(), ro, print)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", "", "show events from this time on: RFC 3339, Unix seconds or a duration ago (10m)")
	f.StringVar(&o.until, "until", "", "stop at this time: RFC 3339, Unix seconds or a duration ago")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "only events that match: type=container|image|volume|network, event=ACTION, container=NAME|ID, image=NAME, volume=NAME, network=NAME|ID, label=KEY[=VALUE], scope=local")
	f.StringVar(&o.format, "format", "", "print each event with a Go template, or json for one JSON object a line")
	return sessionCommand(cmd, 1)
}

// parseEventTime takes Docker's --since and --until forms: a Unix time in
// seconds (with optional fraction), an RFC 3339 time or a duration before now.
func parseEventTime(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if sec, frac, ok := strings.Cut(v, "."); sec != "" && !strings.ContainsAny(v, "-:TZhms") {
		s, err := strconv.ParseInt(sec, 10, 64)
		var ns int64
		if err == nil && ok {
			frac = (frac + "000000000")[:9]
			ns, err = strconv.ParseInt(frac, 10, 64)
		}
		if err == nil {
			return time.Unix(s, ns), nil
		}
	}
	return parseTime(flag, v)
}

// eventPrinter prints an event as Docker's events does: by default
// "TIME TYPE ACTION ID (k=v, ...)", with --format json or {{json .}} the
// Engine API's message.
func eventPrinter(w io.Writer, format string) (func(events.Message) error, error) {
	switch format {
	case "":
		return func(m events.Message) error {
			var attrs []string
			for _, k := range slices.Sorted(maps.Keys(m.Actor.Attributes)) {
				attrs = append(attrs, k+"="+m.Actor.Attributes[k])
			}
			line := fmt.Sprintf("%s %s %s %s", time.Unix(0, m.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00"), m.Type, m.Action, m.Actor.ID)
			if len(attrs) > 0 {
				line += " (" + strings.Join(attrs, ", ") + ")"
			}
			_, err := fmt.Fprintln(w, line)
			return err
		}, nil
	case "json":
		format = "{{json .}}"
	}
	tmpl, err := tmplformat.New(format)
	if err != nil {
		return nil, err
	}
	return func(m events.Message) error {
		return tmplformat.Execute(w, tmpl, m)
	}, nil
}
