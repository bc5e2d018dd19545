package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/cmd/lodger/internal/format"
	"github.com/lodger-containers/lodger/container"
)

type statsOptions struct {
	all      bool
	noStream bool
	noTrunc  bool
	format   string
}

// statsInterval is how often stats samples, as Docker's daemon does.
const statsInterval = time.Second

// statsRow is one line of lodger stats, with Docker's field names for
// --format.
type statsRow struct {
	Container string `json:"Container"`
	ID        string `json:"ID"`
	Name      string `json:"Name"`
	CPUPerc   string `json:"CPUPerc"`
	MemUsage  string `json:"MemUsage"`
	MemPerc   string `json:"MemPerc"`
	NetIO     string `json:"NetIO"`
	BlockIO   string `json:"BlockIO"`
	PIDs      string `json:"PIDs"`
}

// statsHeaders name the columns as Docker's table does.
var statsHeaders = map[string]string{
	"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

const statsDefaultFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

func newStatsCommand() *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [flags] [CONTAINER...]",
		Short: "Show containers' CPU, memory, network, block I/O and process counts",
		Long: `Show a live stream of resource use of containers: the running ones, every
one with -a, or those named. With nothing delegated to you in cgroups the
figures are sums over each container's processes in /proc (memory is their
proportional set size; network the counters of the container's own network
namespace); lodger info says where they come from. The limit is the
machine's memory, as no limit is applied.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "show every container (default: the running ones)")
	f.BoolVar(&o.noStream, "no-stream", false, "print one sample and exit")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate the container ID")
	f.StringVar(&o.format, "format", "", "table, json, a Go template, or table TEMPLATE")
	return sessionCommand(cmd, 1)
}

func runStats(cmd *cobra.Command, o statsOptions, args []string) error {
	pf, err := format.Parse(o.format, statsDefaultFormat, statsHeaders)
	if err != nil {
		return err
	}
	// An unknown field fails before anything is sampled.
	if err := pf.Write(io.Discard, []any{statsRow{}}); err != nil {
		return err
	}
	store, err := openStore()
	if err != nil {
		return err
	}
	defer store.Shutdown(false)
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	prev := map[string]container.Sample{}
	sample := func() ([]container.Sample, error) {
		targets, err := container.StatsTargets(store, args, o.all)
		if err != nil {
			return nil, err
		}
		ss := make([]container.Sample, len(targets))
		for i, in := range targets {
			ss[i] = container.Stats(in)
		}
		return ss, nil
	}
	// The first figures need a previous sample for CPU %.
	first, err := sample()
	if err != nil {
		return err
	}
	for _, s := range first {
		prev[s.ID] = s
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(statsInterval):
		}
		ss, err := sample()
		if err != nil {
			return err
		}
		var b strings.Builder
		if !o.noStream {
			// As Docker's: clear the screen, cursor home.
			b.WriteString("\033[2J\033[H")
		}
		if err := writeStats(&b, ss, prev, args, o, pf); err != nil {
			return err
		}
		if _, err := io.WriteString(out, b.String()); err != nil {
			return err // the reader went away
		}
		if o.noStream {
			return nil
		}
		prev = map[string]container.Sample{}
		for _, s := range ss {
			prev[s.ID] = s
		}
	}
}

func writeStats(w io.Writer, ss []container.Sample, prev map[string]container.Sample, args []string, o statsOptions, pf *format.Format) error {
	rows := make([]any, len(ss))
	for i, s := range ss {
		r := statsRowOf(s, prev[s.ID], o.noTrunc)
		r.Container = r.ID
		if i < len(args) {
			r.Container = args[i]
		}
		rows[i] = r
	}
	return pf.Write(w, rows)
}

// statsRowOf renders a sample as Docker's stats does: binary units for
// memory, decimal ones with three digits for I/O.
func statsRowOf(s, prev container.Sample, noTrunc bool) statsRow {
	id := s.ID
	if !noTrunc && len(id) > 12 {
		id = id[:12]
	}
	limit := s.MemoryLimit
	if !s.Running {
		limit = 0
	}
	io3 := func(a, b uint64) string {
		return units.HumanSizeWithPrecision(float64(a), 3) + " / " + units.HumanSizeWithPrecision(float64(b), 3)
	}
	return statsRow{
		ID:       id,
		Name:     s.Name,
		CPUPerc:  fmt.Sprintf("%.2f%%", s.CPUPercent(prev)),
		MemUsage: units.BytesSize(float64(s.Memory)) + " / " + units.BytesSize(float64(limit)),
		MemPerc:  fmt.Sprintf("%.2f%%", s.MemPercent()),
		NetIO:    io3(s.NetRx, s.NetTx),
		BlockIO:  io3(s.BlockRead, s.BlockWrite),
		PIDs:     fmt.Sprintf("%d", s.PIDs),
	}
}
