package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/images"
)

// newImageCommand builds `skiff image`: load archives into, and list, the
// local registry of the server running on this machine.
func newImageCommand() *cobra.Command {
	registry := fmt.Sprintf("http://127.0.0.1:%d", 6444)
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage the images in the local registry of the server on this machine",
	}
	cmd.PersistentFlags().StringVar(&registry, "registry", registry, "the server's local registry (loopback address)")

	importCmd := &cobra.Command{
		Use:   "import FILE.tar [FILE.tar...]",
		Short: "Load `docker save` or OCI-layout archives (optionally gzipped) so pods can use their images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, path := range args {
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, registry+"/skiff/v1/images/import", f)
				if err != nil {
					f.Close()
					return err
				}
				var names []string
				err = call(req, &names)
				f.Close()
				if err != nil {
					return fmt.Errorf("import %s: %w", path, err)
				}
				for _, n := range names {
					cmd.Printf("imported %s\n", n)
				}
			}
			return nil
		},
	}
	lsCmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the images in the local registry",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, registry+"/skiff/v1/images", nil)
			if err != nil {
				return err
			}
			var list []images.ImageInfo
			if err := call(req, &list); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tTAG\tDIGEST\tSIZE")
			for _, i := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", i.Repository, i.Tag, shortDigest(i.Digest), humanSize(i.Size))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(importCmd, lsCmd)
	return cmd
}

func call(req *http.Request, out any) error {
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("%w (is `skiff server` running on this machine?)", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, string(data))
	}
	return json.Unmarshal(data, out)
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fkB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
