//! Maximum likelihood through argmin: L-BFGS with the More-Thuente line search on the logarithms of the
//! (positive) parameters, with analytic gradients. Cost and gradient are computed in one pass over the
//! data and cached, since the line search asks for both at the same point.
use std::sync::Mutex;

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use crate::{Error, Result};

/// Result of a minimisation: the point, the objective there, iterations.
pub struct Minimum {
    pub point: Vec<f64>,
    pub value: f64,
    pub iterations: u64,
}

type Eval = (Vec<f64>, f64, Vec<f64>);

struct Problem<F> {
    f: F,
    last: Mutex<Option<Eval>>,
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Problem<F> {
    fn eval(&self, p: &[f64]) -> (f64, Vec<f64>) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((q, v, g)) = last.as_ref() {
            if q.as_slice() == p {
                return (*v, g.clone());
            }
        }
        let (v, g) = (self.f)(p);
        // A non-finite objective (parameters overflowing) is "very bad", never a crash.
        let v = if v.is_finite() { v } else { f64::INFINITY };
        *last = Some((p.to_vec(), v, g.clone()));
        (v, g)
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> CostFunction for Problem<F> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.eval(p).0)
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Gradient for Problem<F> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Self::Param) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(p).1)
    }
}

/// Minimises `f` (value and gradient) from `start`; `what` names the model in error messages.
/// The solver stops at a gradient norm of `grad_tol`; the result is accepted when the norm is below
/// `accept` (the objective is a mean over customers, so these are per-customer scales).
pub fn minimize<F>(f: F, start: Vec<f64>, grad_tol: f64, accept: f64, what: &str) -> Result<Minimum>
where
    F: Fn(&[f64]) -> (f64, Vec<f64>),
{
    let problem = Problem {
        f: &f,
        last: Mutex::new(None),
    };
    let (v0, g0) = problem.eval(&start);
    if !v0.is_finite() || g0.iter().any(|g| !g.is_finite()) {
        return Err(Error::Numerical(format!(
            "{what}: the log-likelihood is not finite at the starting point"
        )));
    }
    let linesearch = MoreThuenteLineSearch::new();
    let solver = LBFGS::new(linesearch, 10)
        .with_tolerance_grad(grad_tol)
        .and_then(|s| s.with_tolerance_cost(0.0))
        .map_err(|e| Error::Internal(format!("{what}: optimiser setup: {e}")))?;
    let res = Executor::new(problem, solver)
        .configure(|state| state.param(start).max_iters(1000))
        .run()
        .map_err(|e| Error::Numerical(format!("{what}: optimiser failed: {e}")))?;
    let state = res.state();
    let point = state
        .get_best_param()
        .cloned()
        .ok_or_else(|| Error::Numerical(format!("{what}: optimiser returned no point")))?;
    let iterations = state.get_iter();
    let reason = reason_text(state.get_termination_reason());
    let (value, grad) = f(&point);
    let grad_norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    if !value.is_finite() || grad_norm.is_nan() || grad_norm > accept {
        return Err(Error::Numerical(format!(
            "{what}: maximum likelihood did not converge ({reason}; gradient norm {grad_norm:e} \
             after {iterations} iterations)"
        )));
    }
    Ok(Minimum {
        point,
        value,
        iterations,
    })
}

fn reason_text(reason: Option<&TerminationReason>) -> String {
    reason.map_or_else(|| "no reason".to_string(), |r| r.text().to_string())
}
