-- public.buyers: the buyers table that rules/buyers.yaml and rules/buyers_file.yaml reconcile
-- with the buyers sheet (買主リスト). updated_at is the app's own column and is not mapped.
CREATE TABLE IF NOT EXISTS public.buyers (
    buyer_number             text PRIMARY KEY,      -- 買主番号
    name                     text,                  -- 氏名
    name_kana                text,                  -- フリガナ
    phone                    text,                  -- 電話番号
    email                    text,                  -- メール
    status                   text,                  -- ステータス: active | closed | dropped
    budget_man_yen           numeric(12,1),         -- 予算（万円）
    desired_area             text,                  -- 希望エリア
    viewing_date             date,                  -- 内覧日
    viewing_result_follow_up text,                  -- 内覧結果・後続対応
    follow_up_assignee       text,                  -- 後続担当
    next_contact_at          timestamptz,           -- 次回連絡日時
    pet_allowed              boolean,               -- ペット可
    family_size              integer,               -- 家族人数
    notes                    text,                  -- 備考
    updated_at               timestamptz NOT NULL DEFAULT now()
);
