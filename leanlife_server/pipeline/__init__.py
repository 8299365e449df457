"""The training and recommendation pipeline: when a project retrains (``policy``), what a
retraining job does (``retrain``: the dataset, each recommender trained, evaluated, stored,
its predictions checked and scored for the queue), batch prediction, and the model versions
(``model_store``, ``recommenders``). Jobs run through ``jobs/``, which knows none of this."""
