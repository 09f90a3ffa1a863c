"""The stock cycle: what each listing should show, and getting it there.

Every cycle (see :mod:`hub.core.engine` for the order of phases, and
:class:`hub.core.stock.phase.StockPhase`, the one object the engine calls):

1. **Observe** — listings of partitioned SKUs that sold recently, and listings whose
   last write is in doubt, are read from the platforms; then the engine reads the
   orders placed since its orders phase, so every sale reflected in a read quantity is
   also ingested as a reservation before the plan.
2. **Plan** — from the picture (:mod:`~hub.core.stock.picture`, kept between cycles by
   :mod:`~hub.core.stock.picture_cache`), pure planning (:mod:`~hub.core.stock.plan`):
   targets per shop, and a write wherever a listing's target differs from its model.
3. **Push, lowering before raising** (:mod:`~hub.core.stock.push`): every write is an
   outbox entry recorded before the call; a write whose outcome is in doubt is never
   resent, its listing is re-read next cycle.

:mod:`~hub.core.stock.anchors` alone writes the columns a listing's model is anchored
on; :mod:`~hub.core.stock.drift` compares models with the platforms (`hub stock drift`);
:mod:`~hub.core.stock.show` gives the rows `hub stock show` and the console print.
"""
