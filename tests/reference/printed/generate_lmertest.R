# Printed output of lmerTest for tests/test_summary_satterthwaite.py.
#
#   Rscript tests/reference/printed/generate_lmertest.R tests/reference/printed
#
# For each model writes <name>.satterthwaite.txt: print(summary(as_lmerModLmerTest(m))) for
# the lme4 fit m, exactly as R writes it to the console (messages, such as the "Correlation
# matrix not shown" hint, in their place). The models are those of generate.R of the same
# names (lme4's theta for them is in lme4_fits.json).
# Written with R 4.2.2, lme4 1.1-31, lmerTest 3.1-3, mlmRev 1.0-8
# (options(width = 80, digits = 7)).
suppressMessages({library(lme4); library(lmerTest, warn.conflicts = FALSE); library(mlmRev)})
options(width = 80, digits = 7)
out_dir <- commandArgs(TRUE)[1]

models <- list(
  sleepstudy_reml = list(f = Reaction ~ Days + (Days | Subject), d = "sleepstudy", REML = TRUE),
  sleepstudy_ml = list(f = Reaction ~ Days + (Days | Subject), d = "sleepstudy", REML = FALSE),
  penicillin = list(f = diameter ~ 1 + (1 | plate) + (1 | sample), d = "Penicillin", REML = TRUE),
  cake = list(f = angle ~ recipe * temperature + (1 | recipe:replicate), d = "cake", REML = TRUE),
  exam = list(f = normexam ~ standLRT + sex + (standLRT | school), d = "Exam", REML = TRUE)
)

capt <- function(expr) {
  capture.output(withCallingHandlers(expr, message = function(c) {
    cat(conditionMessage(c))
    invokeRestart("muffleMessage")
  }))
}

for (nm in names(models)) {
  spec <- models[[nm]]
  m <- eval(bquote(suppressWarnings(suppressMessages(
    lme4::lmer(.(spec$f), data = .(as.name(spec$d)), REML = .(spec$REML))))))
  writeLines(capt(print(summary(as_lmerModLmerTest(m)))),
             file.path(out_dir, paste0(nm, ".satterthwaite.txt")))
}
