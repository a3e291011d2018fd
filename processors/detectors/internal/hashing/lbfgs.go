package hashing

import "math"

// lbfgs minimizes a smooth convex function in place from x with limited-memory
// BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed., algorithm 7.4) and a
// backtracking Armijo line search. fg returns the value and gradient at x; the
// gradient slice may be reused by fg between calls, so it is copied here.
//
// gonum/optimize would do, but it pulls in packages whose dependencies this
// module does not carry; the objective here is a plain convex sum, for which
// this short version is enough. It stops after iters iterations, when the
// gradient is tiny, or when a step no longer lowers the value.
func lbfgs(x []float64, fg func([]float64) (float64, []float64), iters int) {
	const (
		mem   = 10
		c1    = 1e-4
		gtol  = 1e-9
		ftol  = 1e-10
		maxLS = 30
	)
	n := len(x)
	f, g0 := fg(x)
	g := append([]float64(nil), g0...)
	s := make([][]float64, 0, mem)
	y := make([][]float64, 0, mem)
	rho := make([]float64, 0, mem)
	alpha := make([]float64, mem)
	d := make([]float64, n)
	xNew := make([]float64, n)
	for it := 0; it < iters; it++ {
		if norm(g) < gtol {
			return
		}
		// Two-loop recursion: d = -H·g.
		copy(d, g)
		for i := len(s) - 1; i >= 0; i-- {
			alpha[i] = rho[i] * dot(s[i], d)
			axpy(-alpha[i], y[i], d)
		}
		if k := len(s) - 1; k >= 0 {
			scale(dot(s[k], y[k])/dot(y[k], y[k]), d)
		} else {
			scale(1/math.Max(norm(g), 1), d)
		}
		for i := range s {
			b := rho[i] * dot(y[i], d)
			axpy(alpha[i]-b, s[i], d)
		}
		scale(-1, d)
		gd := dot(g, d)
		if gd >= 0 { // not a descent direction: restart from the gradient
			s, y, rho = s[:0], y[:0], rho[:0]
			copy(d, g)
			scale(-1/math.Max(norm(g), 1), d)
			gd = dot(g, d)
		}
		step := 1.0
		var fNew float64
		var gNew []float64
		ok := false
		for ls := 0; ls < maxLS; ls++ {
			for i := range x {
				xNew[i] = x[i] + step*d[i]
			}
			fNew, gNew = fg(xNew)
			if fNew <= f+c1*step*gd {
				ok = true
				break
			}
			step /= 2
		}
		if !ok {
			return
		}
		var sk, yk []float64
		if len(s) == mem {
			sk, yk = s[0], y[0]
			s, y, rho = s[1:], y[1:], rho[1:]
		} else {
			sk, yk = make([]float64, n), make([]float64, n)
		}
		for i := range x {
			sk[i] = xNew[i] - x[i]
			yk[i] = gNew[i] - g[i]
		}
		copy(x, xNew)
		copy(g, gNew)
		if sy := dot(sk, yk); sy > 1e-12 {
			s, y, rho = append(s, sk), append(y, yk), append(rho, 1/sy)
		}
		if math.Abs(f-fNew) <= ftol*math.Max(1, math.Abs(f)) {
			return
		}
		f = fNew
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func norm(a []float64) float64 { return math.Sqrt(dot(a, a)) }

func axpy(a float64, x, y []float64) {
	for i := range x {
		y[i] += a * x[i]
	}
}

func scale(a float64, x []float64) {
	for i := range x {
		x[i] *= a
	}
}
