package promshmkv_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/promshmkv"
)

// Register a collector for a table and serve /metrics.
func Example() {
	kv.Remove("promshmkv-example")
	t, err := kv.Open("promshmkv-example", &kv.Options{Keys: 100, Memory: 64 << 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove("promshmkv-example")
	defer t.Close()
	t.Set([]byte("greeting"), []byte("hello"))
	t.Get(nil, []byte("greeting"))

	reg := prometheus.NewRegistry()
	reg.MustRegister(promshmkv.NewCollector(t))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// A real program: http.ListenAndServe(":9100", mux).
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if l := lines.Text(); strings.HasPrefix(l, "shmkv_reads_total") || strings.HasPrefix(l, "shmkv_entries") {
			fmt.Println(l)
		}
	}
	// Output:
	// shmkv_entries{table="promshmkv-example"} 1
	// shmkv_reads_total{result="hit",table="promshmkv-example"} 1
	// shmkv_reads_total{result="miss",table="promshmkv-example"} 0
}
