# lme4's fits for lmer_many's tests beyond the shared genomics design:
#   slope:  y ~ time + group + (time | subject), REML, 40 subjects x 6 times, 300 responses
#   nested: y ~ x + (1 | site/subject), ML with prior weights, 10 sites x 6 subjects x 4,
#           200 responses
# Every response value is a multiple of 2^-10, so the CSV's decimals are exact.
# Run: Rscript scripts/many_reference.R tests/reference/many
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/reference/many"
set.seed(20261206)
q10 <- function(x) round(x * 1024) / 1024

fit_all <- function(formula, data, Y, REML, weights = NULL) {
  rows <- lapply(colnames(Y), function(g) {
    data$y <- Y[, g]
    msgs <- character()
    m <- withCallingHandlers(
      lmer(formula, data, REML = REML, weights = weights,
           control = lmerControl(calc.derivs = FALSE)),
      warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") },
      message = function(m) { msgs <<- c(msgs, trimws(conditionMessage(m))); invokeRestart("muffleMessage") })
    b <- fixef(m); se <- sqrt(diag(as.matrix(vcov(m)))); th <- getME(m, "theta")
    r <- c(setNames(b, paste0("est_", names(b))), setNames(se, paste0("se_", names(b))),
           setNames(th, paste0("theta_", seq_along(th))), sigma = sigma(m),
           crit = if (REML) REMLcrit(m) else deviance(m), singular = as.integer(isSingular(m)))
    data.frame(gene = g, t(r), messages = paste(msgs, collapse = " | "), check.names = FALSE)
  })
  do.call(rbind, rows)
}

# --- random slopes
ns <- 40; nt <- 6
d1 <- expand.grid(time = 0:(nt - 1), subject = sprintf("S%02d", 1:ns), stringsAsFactors = FALSE)
d1$group <- ifelse(match(d1$subject, sprintf("S%02d", 1:ns)) <= ns / 2, "ctrl", "trt")
subj <- match(d1$subject, sprintf("S%02d", 1:ns))
Y1 <- sapply(1:300, function(g) {
  sd0 <- runif(1, 0, 1.5); sd1 <- if (runif(1) < 0.2) 0 else runif(1, 0, 0.5)
  rho <- runif(1, -0.9, 0.9); sigma <- runif(1, 0.5, 2)
  z0 <- rnorm(ns); z1 <- rnorm(ns)
  b0 <- sd0 * z0; b1 <- sd1 * (rho * z0 + sqrt(1 - rho^2) * z1)
  q10(10 + 0.5 * d1$time + 0.3 * (d1$group == "trt") + b0[subj] + b1[subj] * d1$time +
      rnorm(nrow(d1), 0, sigma))
})
colnames(Y1) <- sprintf("r%03d", 1:300)
d1f <- d1; d1f$subject <- factor(d1f$subject); d1f$group <- factor(d1f$group)
write.csv(d1, file.path(out, "slope_data.csv"), row.names = FALSE)
write.csv(Y1, file.path(out, "slope_responses.csv"), row.names = FALSE)
t1 <- system.time(r1 <- fit_all(y ~ time + group + (time | subject), d1f, Y1, TRUE))
write.csv(r1, file.path(out, "slope_lme4.csv"), row.names = FALSE)

# --- nested, ML, prior weights
d2 <- expand.grid(rep = 1:4, subject = 1:6, site = sprintf("T%02d", 1:10), stringsAsFactors = FALSE)
d2$subject <- sprintf("%s.s%d", d2$site, d2$subject)
d2$x <- q10(rnorm(nrow(d2)))
d2$w <- sample(c(0.5, 1, 2), nrow(d2), replace = TRUE)
site <- match(d2$site, sprintf("T%02d", 1:10)); sid <- match(d2$subject, unique(d2$subject))
Y2 <- sapply(1:200, function(g) {
  s1 <- if (runif(1) < 0.3) 0 else runif(1, 0, 1); s2 <- runif(1, 0, 1); sigma <- runif(1, 0.5, 1.5)
  q10(2 - 0.4 * d2$x + rnorm(10, 0, s1)[site] + rnorm(60, 0, s2)[sid] +
      rnorm(nrow(d2), 0, sigma / sqrt(d2$w)))
})
colnames(Y2) <- sprintf("n%03d", 1:200)
d2f <- d2; d2f$site <- factor(d2f$site)
write.csv(d2, file.path(out, "nested_data.csv"), row.names = FALSE)
write.csv(Y2, file.path(out, "nested_responses.csv"), row.names = FALSE)
t2 <- system.time(r2 <- fit_all(y ~ x + (1 | site/subject), d2f, Y2, FALSE, weights = d2f$w))
write.csv(r2, file.path(out, "nested_lme4.csv"), row.names = FALSE)
cat(sprintf("lme4 %s; slope %.1f ms per response, nested %.1f ms\n", packageVersion("lme4"),
            1000 * t1[["elapsed"]] / 300, 1000 * t2[["elapsed"]] / 200))
