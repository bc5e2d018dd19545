package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

func newTopCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top [flags] CONTAINER [ps OPTIONS]",
		Short: "List the processes of a running container",
		Long: `List the processes of a running container, read from the host's /proc:
nothing from the container is run to list them, so ps options are accepted
for Docker's sake and ignored. PIDs are the host's; UID is the real uid as
lodger's user namespace sees it, which is the container's own uid unless
the container runs with --userns=keep-id.`,
		Args: minArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				fmt.Fprintln(cmd.ErrOrStderr(), "lodger: top: ps options are ignored")
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			procs, err := container.Top(store, args[0])
			if err != nil {
				return err
			}
			now := time.Now()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "UID\tPID\tPPID\tC\tSTIME\tTTY\tTIME\tCMD")
			for _, p := range procs {
				uid := "?"
				if p.UID >= 0 {
					uid = strconv.Itoa(p.UID)
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", uid, p.PID, p.PPID, p.CPU, startTime(p.Start, now), p.TTY, cpuTime(p.Time), p.Cmd)
			}
			return tw.Flush()
		},
	}
	// Docker passes everything after the container to ps.
	cmd.Flags().SetInterspersed(false)
	return sessionCommand(cmd, 1)
}

// startTime is ps's STIME: the time today, the date this year, else the
// year.
func startTime(t, now time.Time) string {
	switch {
	case t.IsZero():
		return "?"
	case t.YearDay() == now.YearDay() && t.Year() == now.Year():
		return t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("Jan02")
	}
	return t.Format("2006")
}

// cpuTime is ps's TIME: [DD-]HH:MM:SS.
func cpuTime(d time.Duration) string {
	s := int64(d / time.Second)
	out := fmt.Sprintf("%02d:%02d:%02d", s/3600%24, s/60%60, s%60)
	if days := s / 86400; days > 0 {
		out = fmt.Sprintf("%d-%s", days, out)
	}
	return out
}
