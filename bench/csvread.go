package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
)

// readCSV reads results back from a results.csv that writeCSV wrote.
func readCSV(path string) ([]Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) < 2 || len(rows[0]) != 17 {
		return nil, fmt.Errorf("%s is not a results.csv", path)
	}
	var rs []Result
	for _, row := range rows[1:] {
		var r Result
		num := func(i int) float64 { v, _ := strconv.ParseFloat(row[i], 64); return v }
		r.Store, r.Op, r.Dist, r.Skipped = row[0], row[2], row[5], row[14]
		r.Shareable = row[1] == "true"
		r.ValueSize, r.Keys, r.Workers = int(num(3)), int(num(4)), int(num(6))
		r.OpsPerSec, r.OpsMin, r.OpsMax = num(7), num(15), num(16)
		r.P50, r.P99, r.P999 = int64(num(8)), int64(num(9)), int64(num(10))
		r.BytesPerEntry = num(11)
		rs = append(rs, r)
	}
	return rs, nil
}
