# svg.awk: accuracy.tsv (round, accuracy, ...) to an SVG line chart of
# accuracy by round, axes 0..1 and 0..last round. -v title=TEXT.
NR == 1 { next }
{ x[++n] = $1; y[n] = $2 }
END {
	W = 480; H = 300; L = 50; B = 40; T = 30; R = 20
	pw = W - L - R; ph = H - T - B
	xmax = n ? x[n] : 1
	printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n", W, H
	printf "<text x=\"%d\" y=\"18\" font-size=\"13\">%s: test accuracy by round</text>\n", L, title
	printf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", L, T, pw, ph
	for (i = 0; i <= 10; i += 2) {
		yy = T + ph - ph * i / 10
		printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>", L, yy, L + pw, yy
		printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", L - 4, yy + 4, i / 10
	}
	printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">round</text>\n", L + pw / 2, H - 6
	printf "<text x=\"%d\" y=\"%d\">0</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%d</text>\n", L, T + ph + 14, L + pw, T + ph + 14, xmax
	printf "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\""
	for (i = 1; i <= n; i++)
		printf "%.1f,%.1f ", L + pw * x[i] / xmax, T + ph - ph * y[i]
	printf "\"/>\n</svg>\n"
}
