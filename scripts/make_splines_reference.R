# Reference values for pylmer/formula/splines.py and pylmer/formula/linpack.py.
#
# Writes tests/reference/formula/splines.json: splines::bs, splines::ns (and their predict
# methods), splines::splineDesign, stats::poly (+ predict), quantile(type = 7) and R's LINPACK
# qr() / qr.qty() / qr.qy(), on small data sets stored in the file itself.
#
# Run from the repository root:  Rscript scripts/make_splines_reference.R
#
# Number format: every double is written with 17 significant digits (sprintf("%.17g")),
# which parses back to the identical double; NA/NaN -> null. jsonlite's digits = NA would
# keep only 15 digits, so numbers are pre-formatted and passed with json_verbatim = TRUE.
# Matrices are arrays of rows (row-major).

suppressPackageStartupMessages(library(splines))
library(jsonlite)

fmt <- function(v) {
  v <- as.numeric(v)
  ifelse(is.na(v), "null", sprintf("%.17g", v))
}
num <- function(v) structure(paste0("[", paste(fmt(v), collapse = ","), "]"), class = "json")
mat <- function(m) {
  m <- as.matrix(unclass(m))
  m <- matrix(as.numeric(m), nrow(m), ncol(m))
  rows <- vapply(seq_len(nrow(m)), function(i) paste0("[", paste(fmt(m[i, ]), collapse = ","), "]"),
                 character(1))
  structure(paste0("[", paste(rows, collapse = ","), "]"), class = "json")
}
err_msg <- function(expr) tryCatch({ force(expr); NA_character_ }, error = conditionMessage)
warn_msgs <- function(expr) {
  msgs <- character()
  withCallingHandlers(expr, warning = function(w) {
    msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning")
  })
  msgs
}

## ---- data -----------------------------------------------------------------------------
set.seed(20240611)
data <- list(
  ties = rep(0:9, 3),                                   # sleepstudy-like Days
  skew = round(exp(rnorm(40, 0, 0.9)), 6) * 3.7,        # skewed continuous
  tiny = c(0.5, 1.25, 2, 3.5, 7)                        # few points
)
data$skew_na <- data$skew
data$skew_na[c(3, 17, 40)] <- NA
newx <- list(
  ties = c(-2, -0.5, 0, 0.25, 4.5, 9, 9.5, 12, NA),
  skew = c(min(data$skew) - 1, min(data$skew), median(data$skew), max(data$skew),
           max(data$skew) + 2.5, max(data$skew) + 40),
  skew_na = c(-1, 0.1, 2, 30, NA)
)
newx$tiny <- c(0, 0.5, 1, 7, 9)

## ---- quantile type 7 ------------------------------------------------------------------
quant <- list()
for (nm in c("ties", "skew", "tiny")) for (k in 1:5) {
  p <- seq.int(0, 1, length.out = k + 2)[-c(1, k + 2)]
  quant[[length(quant) + 1]] <- list(x = nm, probs = num(p),
                                     value = num(quantile(data[[nm]], p, names = FALSE)))
}

## ---- splineDesign ---------------------------------------------------------------------
sd_cases <- list()
add_sd <- function(knots, x, ord, derivs) {
  sd_cases[[length(sd_cases) + 1]] <<- list(
    knots = num(knots), x = num(x), ord = ord, derivs = num(derivs),
    value = mat(splineDesign(knots, x, ord, derivs)))
}
k1 <- c(0, 0, 0, 0, 1, 2.5, 4, 4, 4, 4)
x1 <- seq(0, 4, length.out = 9)
for (d in 0:3) add_sd(k1, x1, 4, d)
add_sd(k1, x1, 4, c(0, 1, 2))                            # derivs recycled along x
add_sd(c(0, 0, 0, 1, 2, 3, 3, 3), c(0, 0.3, 1, 1.7, 3), 3, 0)
add_sd(c(0, 0, 0, 1, 2, 3, 3, 3), c(0, 0.3, 1, 1.7, 3), 3, 1)
k2 <- c(0, 0, 0, 0, 1, 1, 1, 2, 3, 3, 3, 3)             # interior knot of multiplicity 3
add_sd(k2, c(0, 0.5, 1, 1.5, 2, 3), 4, 0)
add_sd(k2, c(0, 0.5, 1.5, 2, 3), 4, 1)
add_sd(c(0.2, 1, 1.5, 2.2, 3, 3.3, 4.1, 5), c(2.2, 2.5, 2.9, 3), 4, 0)  # no repeated knots
add_sd(c(0, 0, 1, 2, 2), c(0, 0.5, 1, 2), 2, 0)                         # linear
add_sd(c(0, 0, 1, 2, 2), c(0, 0.5, 1, 2), 2, 1)

## ---- bs -------------------------------------------------------------------------------
basis_case <- function(fun, xname, args, id, predict = TRUE) {
  x <- data[[xname]]
  w <- character()
  b <- withCallingHandlers(do.call(fun, c(list(x), args)), warning = function(cond) {
    w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning")
  })
  out <- list(id = id, x = xname,
              args = lapply(args, function(a) if (is.numeric(a) && !is.integer(a)) num(a) else a),
              basis = mat(b), knots = num(attr(b, "knots")),
              boundary_knots = num(attr(b, "Boundary.knots")),
              degree = attr(b, "degree"), intercept = attr(b, "intercept"),
              warnings = w)
  if (predict) {
    nx <- newx[[xname]]
    pw <- warn_msgs(p <- predict(b, nx))
    out$predict <- list(newx = num(nx), basis = mat(p), warnings = pw)
  }
  out
}
bs_cases <- list()
for (xname in c("ties", "skew")) for (degree in 1:3) for (intercept in c(FALSE, TRUE))
  for (df in 3:6) {
    if (df < degree + intercept) next
    bs_cases[[length(bs_cases) + 1]] <- basis_case(
      "bs", xname, list(df = df, degree = degree, intercept = intercept),
      sprintf("bs_%s_df%d_deg%d_int%d", xname, df, degree, intercept))
  }
bs_cases <- c(bs_cases, list(
  basis_case("bs", "skew", list(), "bs_skew_default"),
  basis_case("bs", "skew", list(knots = c(1.5, 4, 6)), "bs_skew_knots"),
  basis_case("bs", "ties", list(knots = c(2.5, 6), degree = 2, intercept = TRUE),
             "bs_ties_knots_deg2_int"),
  basis_case("bs", "skew_na", list(df = 5), "bs_skewna_df5"),
  basis_case("bs", "skew_na", list(df = 4, degree = 2, intercept = TRUE), "bs_skewna_df4_deg2"),
  basis_case("bs", "skew", list(df = 5, Boundary.knots = c(0, 40)), "bs_skew_bk_wide"),
  basis_case("bs", "tiny", list(df = 4), "bs_tiny_df4"),
  basis_case("bs", "ties", list(df = 2), "bs_ties_df_too_small")
))

## ---- ns -------------------------------------------------------------------------------
ns_cases <- list()
for (xname in c("ties", "skew")) for (intercept in c(FALSE, TRUE)) for (df in 1:5) {
  if (df < 1 + intercept) next
  ns_cases[[length(ns_cases) + 1]] <- basis_case(
    "ns", xname, list(df = df, intercept = intercept),
    sprintf("ns_%s_df%d_int%d", xname, df, intercept))
}
ns_cases <- c(ns_cases, list(
  basis_case("ns", "skew", list(), "ns_skew_default"),
  basis_case("ns", "skew", list(knots = c(1.5, 4, 6)), "ns_skew_knots"),
  basis_case("ns", "ties", list(knots = c(2.5, 6), intercept = TRUE), "ns_ties_knots_int"),
  basis_case("ns", "skew_na", list(df = 4), "ns_skewna_df4"),
  basis_case("ns", "skew_na", list(df = 3, intercept = TRUE), "ns_skewna_df3_int"),
  basis_case("ns", "skew", list(df = 3, Boundary.knots = c(0.5, 10)), "ns_skew_bk_narrow"),
  basis_case("ns", "tiny", list(df = 3), "ns_tiny_df3"),
  basis_case("ns", "ties", list(df = 1, intercept = TRUE), "ns_ties_df_too_small")
))

## ---- poly -----------------------------------------------------------------------------
poly_cases <- list()
for (xname in c("ties", "skew", "tiny")) for (degree in 1:4) {
  p <- poly(data[[xname]], degree)
  nx <- newx[[xname]]; nx <- nx[!is.na(nx)]
  poly_cases[[length(poly_cases) + 1]] <- list(
    x = xname, degree = degree, raw = FALSE, basis = mat(p),
    alpha = num(attr(p, "coefs")$alpha), norm2 = num(attr(p, "coefs")$norm2),
    predict = list(newx = num(nx), basis = mat(predict(p, nx))))
}
for (xname in c("ties", "skew")) {
  p <- poly(data[[xname]], 3, raw = TRUE)
  poly_cases[[length(poly_cases) + 1]] <- list(x = xname, degree = 3L, raw = TRUE,
                                               basis = mat(p))
}

## ---- LINPACK QR -----------------------------------------------------------------------
qr_case <- function(x, y) {
  q <- qr(x)
  list(x = mat(x), qr = mat(q$qr), qraux = num(q$qraux), rank = q$rank,
       pivot = as.integer(q$pivot), y = mat(y), qty = mat(qr.qty(q, y)),
       qy = mat(qr.qy(q, y)))
}
set.seed(7)
i6 <- 1:6
qr_cases <- list(
  qr_case(cbind(1, 2 + 3 * i6, i6, i6^2), matrix(rnorm(12), 6, 2)),       # col 3 dependent
  qr_case(cbind(i6, 0, 1, i6 - 1, sqrt(i6)), matrix(rnorm(12), 6, 2)),     # zero and dependent
  qr_case(matrix(rnorm(15), 3, 5), matrix(rnorm(6), 3, 2)),                # p > n
  qr_case(cbind(1, i6, -i6^2, c(3, -1, 4, 1, -5, 9)), matrix(rnorm(6), 6, 1)),  # full rank
  qr_case(t(splineDesign(sort(c(rep(c(0, 9), 4), 3, 6)), c(0, 9), 4, c(2, 2)))[-1, ],
          matrix(rnorm(15), 5, 3))                                          # ns constraint
)

## ---- error messages -------------------------------------------------------------------
errors <- list(
  poly_degree = err_msg(poly(data$ties, 10)),
  poly_na = err_msg(poly(data$skew_na, 2)),
  poly_degree0 = err_msg(poly(data$ties, 0)),
  bs_degree0 = err_msg(bs(data$ties, degree = 0)),
  splineDesign_outside = err_msg(splineDesign(k1, c(-1, 2), 4)),
  splineDesign_derivs = err_msg(splineDesign(k1, 2, 4, 4))
)

versions <- list(R = R.version.string, splines = as.character(packageVersion("splines")),
                 jsonlite = as.character(packageVersion("jsonlite")))
out <- list(
  description = paste("R reference for pylmer.formula.splines / linpack;",
                      "generated by scripts/make_splines_reference.R"),
  versions = versions,
  data = lapply(data, num), newx = lapply(newx, num),
  quantile = quant, spline_design = sd_cases, bs = bs_cases, ns = ns_cases,
  poly = poly_cases, qr = qr_cases, errors = errors
)
dir.create("tests/reference/formula", showWarnings = FALSE, recursive = TRUE)
write_json(out, "tests/reference/formula/splines.json", auto_unbox = TRUE,
           json_verbatim = TRUE, pretty = FALSE, na = "null")
cat("wrote tests/reference/formula/splines.json\n")
