package main

import (
	"bufio"
	"errors"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/container"
)

func newCpCommand() *cobra.Command {
	var o container.CopyOptions
	cmd := &cobra.Command{
		Use:   "cp [flags] CONTAINER:SRC_PATH DEST_PATH|-\n  lodger cp [flags] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files and directories between a container and the host",
		Long: `Copy files and directories between a container, running or stopped, and
the host, with Docker's rules: a directory is copied recursively; a copy
lands inside an existing directory under its own name (SRC_PATH/. copies
the directory's contents instead), replaces an existing file, or is created
under DEST_PATH in an existing directory. "-" as SRC_PATH reads a tar
archive from stdin and unpacks it into the container directory DEST_PATH;
"-" as DEST_PATH writes SRC_PATH to stdout as a tar archive.

Container paths are relative to the container's root, and every symlink in
them is resolved inside the container, never on the host. cp sees the
container's own filesystem: volumes, bind mounts and tmpfs mounts of a
running container are not in it, and what is copied to such a path lands
in the container's filesystem underneath the mount.

Modes and times are kept. Files copied into a container belong to its root
user and files copied out to you; -a keeps the owners the source has.`,
		Args: exactArgs(2, "SRC DST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcCtr, src := container.SplitCopyArg(args[0])
			dstCtr, dst := container.SplitCopyArg(args[1])
			switch {
			case srcCtr != "" && dstCtr != "":
				return errors.New("copying between containers is not supported: copy to the host first")
			case srcCtr == "" && dstCtr == "":
				return errors.New("one of SRC and DST must be CONTAINER:PATH")
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			switch {
			case srcCtr != "" && dst == "-":
				w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
				if err := container.ArchiveFromContainer(store, srcCtr, src, w, o); err != nil {
					return err
				}
				return w.Flush()
			case srcCtr != "":
				return container.CopyFromContainer(store, srcCtr, src, dst, o)
			case src == "-":
				return container.ExtractToContainer(store, dstCtr, cmd.InOrStdin(), dst, o)
			}
			return container.CopyToContainer(store, dstCtr, src, dst, o)
		},
	}
	cmd.Flags().BoolVarP(&o.Archive, "archive", "a", false, "keep the source's owners (uid and gid)")
	cmd.Flags().BoolVarP(&o.FollowLink, "follow-link", "L", false, "copy what a symlink SRC_PATH points to, not the link")
	// Docker's -q silences a progress line lodger does not print.
	cmd.Flags().BoolP("quiet", "q", false, "print nothing (lodger prints no progress anyway)")
	return sessionCommand(cmd, 1)
}
