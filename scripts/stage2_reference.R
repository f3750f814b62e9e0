# Reference fits for glmer's stage 2 on dispersion families (tests/test_stage2.py).
#
# Simulates, with fixed seeds, GLMMs of two kinds whose Laplace deviance, as lme4 computes
# it, jumps by up to 1e-2 where PIRLS changes its number of iterations:
#   gamma_slope_<seed>:  Gamma(link = "log"), y ~ x + (1 + x | g), correlated random slope
#   invgauss_<seed>:     inverse.gaussian(link = "log"), y ~ x + (1 | g)
# each with 40 groups of 10 observations, and fits each with lme4's default controls
# (glmerControl(): stage 1 bobyqa, stage 2 Nelder_Mead, nAGQ = 1).
#
# Writes to tests/reference/stage2/:
#   <model_id>.csv    the data (g as a factor label, x and y as shortest-exact doubles)
#   <model_id>.json   formula, family, link, lme4's -2 logLik (= devcomp's "dev", the
#                     stage-2 objective at the optimum), deviance() (for glmer the sum of
#                     squared deviance residuals, not -2 logLik), optinfo$val (the
#                     optimum (theta, beta)), theta, beta, sigma, evaluation count,
#                     convergence messages and the warnings of the fit; stage 2's start,
#                     initial steps (xst, xt) and linear predictor lp0 as glmer() has them
#                     after stage 1; and the nAGQ = 0 fit's theta and objective
#   index.json        the model ids and the versions of R and lme4
#   neldermead.json   lme4::Nelder_Mead() on test functions (par, fval, feval, NM.result),
#                     for tests/test_neldermead.py
#
# Run from the repository root:  Rscript scripts/stage2_reference.R
#
# Number format: every double is written with 17 significant digits (sprintf("%.17g")),
# which parses back to the identical double. Named vectors become JSON objects.

suppressPackageStartupMessages(library(lme4))
library(jsonlite)

out_dir <- file.path("tests", "reference", "stage2")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

fmt <- function(v) {
  v <- as.numeric(v)
  ifelse(is.na(v), "null", sprintf("%.17g", v))
}
num <- function(v) structure(paste0("[", paste(fmt(v), collapse = ","), "]"), class = "json")
one <- function(v) structure(fmt(v), class = "json")
named <- function(v) {
  structure(paste0("{", paste(sprintf("\"%s\":%s", names(v), fmt(v)), collapse = ","), "}"),
            class = "json")
}
chr <- function(v) if (length(v)) as.list(as.character(v)) else list()

# Inverse Gaussian draws (Michael, Schucany and Haas 1976): mean mu, shape lambda.
rinvgauss_msh <- function(n, mu, lambda) {
  nu <- rnorm(n)^2
  x <- mu + mu^2 * nu / (2 * lambda) -
    mu / (2 * lambda) * sqrt(4 * mu * lambda * nu + mu^2 * nu^2)
  ifelse(runif(n) <= mu / (mu + x), x, mu^2 / x)
}

simulate_gamma_slope <- function(seed, ngrp = 40, nper = 10) {
  set.seed(seed)
  g <- factor(sprintf("g%02d", rep(seq_len(ngrp), each = nper)))
  x <- round(runif(ngrp * nper, -1, 2), 3)
  # random intercept sd 0.5, slope sd 0.3, correlation 0.5
  sds <- c(0.5, 0.3)
  S <- diag(sds) %*% matrix(c(1, 0.5, 0.5, 1), 2) %*% diag(sds)
  b <- matrix(rnorm(2 * ngrp), ngrp) %*% chol(S)
  eta <- 1 + 0.4 * x + b[g, 1] + b[g, 2] * x
  shape <- 3
  y <- rgamma(length(eta), shape = shape, rate = shape / exp(eta))
  data.frame(g = g, x = x, y = y)
}

simulate_invgauss <- function(seed, ngrp = 40, nper = 10) {
  set.seed(seed)
  g <- factor(sprintf("g%02d", rep(seq_len(ngrp), each = nper)))
  x <- round(runif(ngrp * nper, -1, 2), 3)
  b <- rnorm(ngrp, sd = 0.4)
  eta <- 0.5 + 0.3 * x + b[g]
  y <- rinvgauss_msh(length(eta), mu = exp(eta), lambda = 4)
  data.frame(g = g, x = x, y = y)
}

# Seed 101 of each kind fits without any convergence message. Seeds 2 and 25 (Gamma) and
# 15 and 27 (inverse Gaussian) are models where lme4 itself reports a convergence failure:
# about a third of these models do (28 of the 80 from seeds 1-40 of each kind), as the Laplace
# deviance jumps where PIRLS changes its number of iterations and lme4's Nelder-Mead ends
# next to such a jump. Seed 202 (inverse Gaussian) is one where stage 1 matters too: there
# lme4's stage-1 deviance (nAGQ = 0) is 0.023 lower than where nlopt's BOBYQA stops.
specs <- c(
  lapply(c(101, 2, 25), function(seed) list(
    id = paste0("gamma_slope_", seed), sim = simulate_gamma_slope, seed = seed,
    formula = y ~ x + (1 + x | g), family = "Gamma", link = "log")),
  lapply(c(101, 15, 27, 202), function(seed) list(
    id = paste0("invgauss_", seed), sim = simulate_invgauss, seed = seed,
    formula = y ~ x + (1 | g), family = "inverse.gaussian", link = "log"))
)

family_object <- function(spec) {
  switch(spec$family,
         Gamma = Gamma(link = spec$link),
         inverse.gaussian = inverse.gaussian(link = spec$link))
}

write_data <- function(d, path) {
  lines <- c("\"g\",\"x\",\"y\"",
             sprintf("\"%s\",%s,%s", as.character(d$g), fmt(d$x), fmt(d$y)))
  writeLines(lines, path)
  back <- read.csv(path)
  stopifnot(identical(back$x, d$x), identical(back$y, d$y),
            identical(back$g, as.character(d$g)))
}

fit_recording <- function(expr) {
  warns <- character()
  msgs <- character()
  fit <- withCallingHandlers(expr,
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning")
    },
    message = function(m) {
      msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage")
    })
  list(fit = fit, warnings = warns, messages = msgs)
}

ids <- character()
for (spec in specs) {
  d <- spec$sim(spec$seed)
  write_data(d, file.path(out_dir, paste0(spec$id, ".csv")))
  d <- read.csv(file.path(out_dir, paste0(spec$id, ".csv")), stringsAsFactors = TRUE)
  fam <- family_object(spec)

  r <- fit_recording(glmer(spec$formula, data = d, family = fam))
  m <- r$fit
  r0 <- fit_recording(glmer(spec$formula, data = d, family = fam, nAGQ = 0))
  # stage 2's start and initial steps: the devfun glmer() has after stage 1
  rho <- environment(suppressWarnings(glmer(spec$formula, data = d, family = fam,
                                            devFunOnly = TRUE)))
  start2 <- c(rho$pp$theta, rho$pp$delb)
  xst <- 0.2 * c(rep.int(0.1, length(rho$pp$theta)), pmin(sqrt(diag(rho$pp$unsc())), 10))
  stopifnot(isTRUE(all.equal(xst, m@optinfo$control$xst, tolerance = 0)))
  m0 <- r0$fit
  conv <- m@optinfo$conv

  record <- list(
    model_id = spec$id,
    data_file = paste0(spec$id, ".csv"),
    call = sprintf("glmer(%s, data = %s, family = %s(link = \"%s\"))",
                   deparse(spec$formula), spec$id, spec$family, spec$link),
    formula = deparse(spec$formula),
    family = spec$family,
    link = spec$link,
    seed = spec$seed,
    nobs = nrow(d),
    ngrps = nlevels(d$g),
    minus2logLik = one(-2 * as.numeric(logLik(m))),
    devcomp_dev = one(m@devcomp$cmp[["dev"]]),
    optinfo_val = num(m@optinfo$val),
    deviance = one(deviance(m)),
    theta = named(getME(m, "theta")),
    fixef = named(fixef(m)),
    sigma = one(sigma(m)),
    optimizer = as.list(m@optinfo$optimizer),
    feval = m@optinfo$feval,
    optimizer_code = conv$opt,
    optimizer_message = m@optinfo$message,
    lme4_messages = chr(conv$lme4$messages),
    lme4_code = chr(conv$lme4$code),
    optinfo_warnings = chr(unlist(m@optinfo$warnings)),
    fit_warnings = chr(r$warnings),
    fit_messages = chr(r$messages),
    gradient = num(m@optinfo$derivs$gradient),
    stage2 = list(start = num(start2), xst = num(xst), xt = num(m@optinfo$control$xt),
                  lp0 = num(rho$lp0)),
    nAGQ0 = list(theta = named(getME(m0, "theta")), optinfo_val = num(m0@optinfo$val),
                 devcomp_dev = one(m0@devcomp$cmp[["dev"]]),
                 feval = m0@optinfo$feval, fit_warnings = chr(r0$warnings)),
    versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")))
  )
  write_json(record, file.path(out_dir, paste0(spec$id, ".json")), auto_unbox = TRUE,
             json_verbatim = TRUE, pretty = TRUE)
  cat(sprintf("%-18s -2logLik %.10f  feval %d  messages: %s\n", spec$id,
              -2 * as.numeric(logLik(m)), m@optinfo$feval,
              paste(r$warnings, collapse = " | ")))
  ids <- c(ids, spec$id)
}

## ---- lme4::Nelder_Mead on test functions ---------------------------------------------
rosenbrock <- function(x) 100 * (x[2] - x[1]^2)^2 + (1 - x[1])^2
quad4 <- function(x) sum((x - c(1, -2, 3, 0.5))^2 * c(1, 10, 100, 0.1)) + 0.3 * x[1] * x[2]
nm_cases <- list(
  list(name = "rosenbrock", fn = "rosenbrock", x0 = c(-1.2, 1), lower = c(-Inf, -Inf),
       upper = c(Inf, Inf), control = list()),
  list(name = "rosenbrock_bounded", fn = "rosenbrock", x0 = c(-1.2, 1), lower = c(-2, -2),
       upper = c(0.5, 2), control = list()),
  list(name = "rosenbrock_xst", fn = "rosenbrock", x0 = c(-1.2, 1), lower = c(-Inf, -Inf),
       upper = c(Inf, Inf), control = list(xst = c(0.5, 0.5))),
  list(name = "rosenbrock_start_on_bound", fn = "rosenbrock", x0 = c(0, 0.5),
       lower = c(0, 0.5), upper = c(2, 3), control = list(xst = c(0.1, 0.1))),
  list(name = "quad4_bounded", fn = "quad4", x0 = c(0, 0, 0, 0), lower = c(-Inf, -1, 0, 0),
       upper = c(Inf, Inf, Inf, Inf), control = list(xst = rep(0.1, 4))),
  list(name = "rosenbrock_maxfun", fn = "rosenbrock", x0 = c(-1.2, 1), lower = c(-Inf, -Inf),
       upper = c(Inf, Inf), control = list(maxfun = 50))
)
nm_out <- lapply(nm_cases, function(cs) {
  w <- character()
  res <- withCallingHandlers(
    Nelder_Mead(get(cs$fn), cs$x0, lower = cs$lower, upper = cs$upper, control = cs$control),
    warning = function(x) { w <<- c(w, conditionMessage(x)); invokeRestart("muffleWarning") })
  out <- list(name = cs$name, fn = cs$fn, x0 = num(cs$x0),
       lower = lapply(cs$lower, function(v) if (is.finite(v)) one(v) else "-Inf"),
       upper = lapply(cs$upper, function(v) if (is.finite(v)) one(v) else "Inf"),
       xst = if (is.null(cs$control$xst)) NULL else num(cs$control$xst),
       maxfun = if (is.null(cs$control$maxfun)) NULL else cs$control$maxfun,
       par = num(res$par), fval = one(res$fval), feval = res$feval,
       NM_result = res$NM.result, message = res$message, warnings = chr(w))
  Filter(Negate(is.null), out)  # no xst / maxfun: lme4's defaults
})
write_json(list(cases = nm_out,
                versions = list(R = R.version.string,
                                lme4 = as.character(packageVersion("lme4")))),
           file.path(out_dir, "neldermead.json"), auto_unbox = TRUE, json_verbatim = TRUE,
           pretty = TRUE)

write_json(list(models = ids,
                versions = list(R = R.version.string,
                                lme4 = as.character(packageVersion("lme4")))),
           file.path(out_dir, "index.json"), auto_unbox = TRUE, pretty = TRUE)
