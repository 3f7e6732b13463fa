/**
 * Go sources of the lab's stand-in images, written into a temporary module and built with CGO_ENABLED=0.
 * They are not nginx or busybox: they answer exactly what khw's smoke test asks of those images.
 */

export const GO_MODULE = "khw.local/labimages";

/** A static HTTP server on :80 standing in for nginx (`nginx -v` names itself honestly). */
export const HTTPD_GO = `package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

const version = "nginx version: khw-lab-httpd/1.0 (a static Go HTTP server standing in for nginx in the khw lab; not nginx)"

const page = \`<!DOCTYPE html>
<html><head><title>Welcome to khw-lab-httpd</title></head>
<body><h1>Welcome to khw-lab-httpd</h1><p>khw lab test server (stands in for nginx).</p></body></html>
\`

func main() {
	for _, a := range os.Args[1:] {
		if a == "-v" || a == "-V" {
			fmt.Fprintln(os.Stderr, version)
			return
		}
	}
	addr := os.Getenv("KHW_HTTPD_LISTEN")
	if addr == "" {
		addr = ":80"
	}
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("%s - - [%s] \\"%s %s %s\\" 200 %d \\"%s\\"\\n", r.RemoteAddr, time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"), r.Method, r.URL.Path, r.Proto, len(page), r.UserAgent())
		w.Header().Set("Server", "khw-lab-httpd/1.0")
		w.Header().Set("X-Served-By", host)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page)
	})
	fmt.Printf("khw-lab-httpd listening on %s\\n", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
`;

/** A multi-call binary standing in for busybox: sleep, nslookup (busybox's output format), hostname, true. */
export const TOOLBOX_GO = `package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func nameservers() []string {
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			out = append(out, fields[1])
		}
	}
	return out
}

func nslookup(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: nslookup HOST [DNS_SERVER]")
		return 1
	}
	name := args[0]
	servers := nameservers()
	if len(args) > 1 {
		servers = []string{args[1]}
	}
	r := net.DefaultResolver
	if len(args) > 1 {
		r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort(args[1], "53"))
		}}
	}
	if len(servers) > 0 {
		fmt.Printf("Server:    %s\\nAddress 1: %s\\n\\n", servers[0], servers[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nslookup: can't resolve '%s': %v\\n", name, err)
		return 1
	}
	fmt.Printf("Name:      %s\\n", name)
	for i, a := range addrs {
		fmt.Printf("Address %d: %s\\n", i+1, a)
	}
	return 0
}

func main() {
	cmd := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if cmd == "toolbox" && len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "sleep":
		if len(args) < 1 {
			fmt.Fprintln(os.Stderr, "usage: sleep SECONDS")
			os.Exit(1)
		}
		n, err := strconv.ParseFloat(args[0], 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sleep: invalid number", args[0])
			os.Exit(1)
		}
		time.Sleep(time.Duration(n * float64(time.Second)))
	case "nslookup":
		os.Exit(nslookup(args))
	case "hostname":
		h, _ := os.Hostname()
		fmt.Println(h)
	case "true":
	default:
		fmt.Fprintf(os.Stderr, "%s: applet not found (khw lab toolbox: sleep, nslookup, hostname, true)\\n", cmd)
		os.Exit(127)
	}
}
`;

export const GO_MOD = `module ${GO_MODULE}

go 1.22
`;
